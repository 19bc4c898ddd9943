# Finds every third-party dependency. Each failure names the Debian 12
# package that provides the missing piece, so `apt-get install` is one step.

macro(souk_missing what package)
  message(FATAL_ERROR
    "souk: ${what} not found. Install the Debian package '${package}' "
    "(scripts/install-deps installs everything souk needs).")
endmacro()

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)

# CAF 0.17.6 ships neither a CMake config nor a pkg-config file on Debian.
find_path(CAF_INCLUDE_DIR caf/all.hpp)
find_library(CAF_CORE_LIBRARY caf_core)
find_library(CAF_IO_LIBRARY caf_io)
if(NOT CAF_INCLUDE_DIR OR NOT CAF_CORE_LIBRARY OR NOT CAF_IO_LIBRARY)
  souk_missing("CAF (the C++ Actor Framework, 0.17)" libcaf-dev)
endif()
add_library(souk_caf INTERFACE)
target_include_directories(souk_caf SYSTEM INTERFACE ${CAF_INCLUDE_DIR})
target_link_libraries(souk_caf INTERFACE ${CAF_CORE_LIBRARY} ${CAF_IO_LIBRARY}
                      Threads::Threads)

# SOCI 4.0 has no CMake config on Debian either; it needs libpq and sqlite3.
find_path(SOCI_INCLUDE_DIR soci/soci.h)
find_library(SOCI_CORE_LIBRARY soci_core)
find_library(SOCI_SQLITE3_LIBRARY soci_sqlite3)
find_library(SOCI_POSTGRESQL_LIBRARY soci_postgresql)
if(NOT SOCI_INCLUDE_DIR OR NOT SOCI_CORE_LIBRARY OR NOT SOCI_SQLITE3_LIBRARY
   OR NOT SOCI_POSTGRESQL_LIBRARY)
  souk_missing("SOCI 4.0 with its SQLite3 and PostgreSQL backends" libsoci-dev)
endif()
find_package(PostgreSQL QUIET)
if(NOT PostgreSQL_FOUND)
  souk_missing("libpq (PostgreSQL client library)" libpq-dev)
endif()
find_package(SQLite3 QUIET)
if(NOT SQLite3_FOUND)
  souk_missing("SQLite3" libsqlite3-dev)
endif()
add_library(souk_soci INTERFACE)
target_include_directories(souk_soci SYSTEM INTERFACE ${SOCI_INCLUDE_DIR}
                           ${PostgreSQL_INCLUDE_DIRS})
target_link_libraries(souk_soci INTERFACE ${SOCI_CORE_LIBRARY}
  ${SOCI_SQLITE3_LIBRARY} ${SOCI_POSTGRESQL_LIBRARY} PostgreSQL::PostgreSQL
  SQLite::SQLite3 ${CMAKE_DL_LIBS})

find_package(Boost 1.74 QUIET CONFIG COMPONENTS unit_test_framework)
if(NOT Boost_FOUND)
  souk_missing("Boost 1.74 (Beast, Asio, Test)"
               "libboost1.74-dev and libboost-test1.74-dev")
endif()

find_package(yaml-cpp QUIET CONFIG)
if(NOT yaml-cpp_FOUND)
  souk_missing("yaml-cpp" libyaml-cpp-dev)
endif()
find_package(fmt QUIET CONFIG)
if(NOT fmt_FOUND)
  souk_missing("fmt" libfmt-dev)
endif()
find_package(spdlog QUIET CONFIG)
if(NOT spdlog_FOUND)
  souk_missing("spdlog" libspdlog-dev)
endif()
find_package(nlohmann_json QUIET CONFIG)
if(NOT nlohmann_json_FOUND)
  souk_missing("nlohmann-json" nlohmann-json3-dev)
endif()
find_package(OpenSSL QUIET)
if(NOT OpenSSL_FOUND)
  souk_missing("OpenSSL" libssl-dev)
endif()
find_package(CURL QUIET)
if(NOT CURL_FOUND)
  souk_missing("libcurl" libcurl4-openssl-dev)
endif()

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(SODIUM QUIET IMPORTED_TARGET libsodium)
endif()
if(NOT SODIUM_FOUND)
  souk_missing("libsodium" "libsodium-dev and pkg-config")
endif()

find_path(MUSTACHE_INCLUDE_DIR kainjow/mustache.hpp)
if(NOT MUSTACHE_INCLUDE_DIR)
  souk_missing("kainjow-mustache" libkainjow-mustache-dev)
endif()

# prometheus-cpp's CMake config also looks for its pull and push parts'
# dependencies (civetweb, zlib); souk only uses the core library.
find_path(PROMETHEUS_CPP_INCLUDE_DIR prometheus/registry.h)
find_library(PROMETHEUS_CPP_CORE_LIBRARY prometheus-cpp-core)
if(NOT PROMETHEUS_CPP_INCLUDE_DIR OR NOT PROMETHEUS_CPP_CORE_LIBRARY)
  souk_missing("prometheus-cpp (core)" prometheus-cpp-dev)
endif()
add_library(souk_prometheus INTERFACE)
target_include_directories(souk_prometheus SYSTEM INTERFACE
                           ${PROMETHEUS_CPP_INCLUDE_DIR})
target_link_libraries(souk_prometheus INTERFACE ${PROMETHEUS_CPP_CORE_LIBRARY}
                      Threads::Threads)
