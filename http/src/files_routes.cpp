// PUT /api/v1/products/{id}/files?name=NAME: a raw body, streamed to storage.

#include <fmt/format.h>

#include "souk/accounts/service.hpp"
#include "souk/core/worker_pool.hpp"
#include "souk/http/access.hpp"
#include "souk/http/json.hpp"
#include "souk/http/problem.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/product_files.hpp"
#include "souk/storage/blob_store.hpp"

#include "routes_internal.hpp"

namespace souk::http {

namespace {

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    if (len == 0 || i + len > s.size() || (len == 2 && c < 0xc2))
      return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80)
        return false;
    i += len;
  }
  return true;
}

} // namespace

expected<std::string> sanitize_file_name(std::string_view name) {
  auto bad = [](std::string detail) {
    return error{errc::invalid_field, std::move(detail), "name"};
  };
  while (!name.empty() && name.front() == ' ')
    name.remove_prefix(1);
  while (!name.empty() && name.back() == ' ')
    name.remove_suffix(1);
  if (name.empty())
    return bad("name is required: PUT .../files?name=book.pdf");
  if (name.size() > 255)
    return bad("name is longer than 255 bytes");
  if (name == "." || name == "..")
    return bad("name must be a file name");
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
      return bad("name must not contain slashes or control characters");
  if (!valid_utf8(name))
    return bad("name must be UTF-8");
  return std::string{name};
}

namespace {

// One upload: pulls the body chunk by chunk, writes each on a worker thread,
// asks for the next only when the last is written (so memory holds one
// chunk), then records the file. Any failure drops the writer, which
// removes the partial blob.
class upload : public std::enable_shared_from_this<upload> {
public:
  upload(std::shared_ptr<const services> svc, const request& req,
         std::shared_ptr<body_reader> body, reply_fn reply,
         persistence::product_file_row row,
         std::unique_ptr<storage::blob_writer> writer)
    : svc_(std::move(svc)), req_(req), body_(std::move(body)),
      reply_(std::move(reply)), row_(std::move(row)),
      writer_(std::move(writer)) {}

  void next() {
    body_->read([self = shared_from_this()](const error& err,
                                            std::string_view chunk, bool done) {
      if (err)
        return self->fail(err);
      self->svc_->workers->post([self, chunk, done] {
        if (auto e = self->writer_->write(chunk))
          return self->fail(e);
        if (done)
          return self->finish();
        self->next();
      });
    });
  }

private:
  void fail(const error& err) {
    writer_.reset(); // removes the partial blob
    req_.log.info("upload failed: {}", err.detail);
    reply_(problem(err, req_.request_id));
  }

  void finish() {
    auto info = writer_->commit();
    writer_.reset();
    if (!info)
      return fail(info.err());
    row_.storage_key = info->key;
    row_.size = static_cast<int64_t>(info->size);
    row_.sha256 = info->sha256;
    auto stored = persistence::product_file_repository{*svc_->db}.put(row_);
    if (!stored) {
      (void)svc_->store->remove(info->key); // no row, so no blob either
      return fail(stored.err());
    }
    auto& [file, replaced] = *stored;
    if (!replaced.empty())
      if (auto err = svc_->store->remove(replaced))
        req_.log.warn("could not remove replaced blob {}: {}", replaced,
                      err.detail);
    req_.log.info("stored file {} ({} bytes) for product {}", file.id,
                  file.size, file.product_id);
    if (svc_->on_product_changed)
      svc_->on_product_changed(file.product_id);
    reply_(json_response(replaced.empty() ? 201 : 200,
                         {{"id", file.id},
                          {"name", file.name},
                          {"size", file.size},
                          {"sha256", file.sha256},
                          {"content_type", file.content_type}}));
  }

  std::shared_ptr<const services> svc_;
  const request& req_; // valid until reply_ is called
  std::shared_ptr<body_reader> body_;
  reply_fn reply_;
  persistence::product_file_row row_;
  std::unique_ptr<storage::blob_writer> writer_;
};

std::string content_type_of(const request& req) {
  auto type = std::string{req.header("content-type").value_or("")};
  bool ok = !type.empty() && type.size() <= 100;
  for (unsigned char c : type)
    ok = ok && c >= 0x20 && c < 0x7f;
  return ok ? type : "application/octet-stream";
}

} // namespace

void add_file_routes(router& r, std::shared_ptr<const services> svc) {
  r.add_stream(
    "PUT", "/api/v1/products/{id}/files",
    guard_stream(
      svc, access::only({std::string{accounts::creator}}),
      [svc](const request& req, const accounts::principal* who,
            std::shared_ptr<body_reader> body, reply_fn reply) {
        // Checks before a byte of the body is accepted.
        auto name = sanitize_file_name(req.query_param("name").value_or(""));
        if (!name)
          return reply(problem(name.err(), req.request_id));
        auto& id = req.param("id");
        auto owner = owned_product(*svc, *who, id);
        if (!owner)
          return reply(problem(owner.err(), req.request_id));
        if (owner->status == "archived")
          return reply(problem(errc::conflict,
                               "the product is archived; files cannot change",
                               req.request_id));
        auto writer = svc->store->create();
        if (!writer)
          return reply(problem(writer.err(), req.request_id));
        persistence::product_file_row row;
        row.product_id = id;
        row.name = *name;
        row.content_type = content_type_of(req);
        std::make_shared<upload>(svc, req, std::move(body), std::move(reply),
                                 std::move(row), std::move(*writer))
          ->next();
      }),
    svc->max_upload);

  // A file taken off a product before anyone bought it (a wrong upload):
  // its row and bytes go. A file buyers were granted stays (409): replace
  // it under the same name instead.
  r.add("DELETE", "/api/v1/products/{id}/files/{file_id}",
        guard(svc, access::only({std::string{accounts::creator}}),
              [svc](const request& req, const accounts::principal* who,
                    reply_fn reply) {
                auto& id = req.param("id");
                if (auto owner = owned_product(*svc, *who, id); !owner)
                  return reply(problem(owner.err(), req.request_id));
                auto key
                  = persistence::product_file_repository{*svc->db}.remove(
                    id, req.param("file_id"));
                if (!key)
                  return reply(problem(key.err(), req.request_id));
                // Gone from the database: its bytes are no one's. If they
                // cannot be removed now, housekeeping sets them aside later.
                if (auto err = svc->store->remove(*key))
                  req.log.warn("could not remove the bytes of file {}: {}",
                               req.param("file_id"), err.detail);
                req.log.info("removed file {} of product {}",
                             req.param("file_id"), id);
                if (svc->on_product_changed)
                  svc->on_product_changed(id);
                reply(no_content());
              }));
}

} // namespace souk::http
