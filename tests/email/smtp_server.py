#!/usr/bin/python3
"""A real SMTP server on loopback for souk's email tests (aiosmtpd, Debian's
python3-aiosmtpd).

Each accepted message is written to DIR/NNNN.eml (in arrival order) with its
envelope in DIR/NNNN.env. Options make it misbehave the way real servers do:
refuse the first N messages with a temporary 451, refuse recipients
containing a text for good (550), require STARTTLS (with a self-signed
certificate it makes) and AUTH, close connections idle for a time or
after a number of messages. With --gather N, each message's DATA waits
until N messages are in DATA at once (or --gather-timeout seconds pass);
from then on nothing waits. Each envelope file names the client's port
("peer N": messages on one connection share it) and how many messages
were in DATA together when it was let through ("together N"). Prints
"listening on PORT" when ready; runs until killed.
"""
import argparse
import asyncio
import os
import socket
import ssl
import subprocess
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler:
    def __init__(self, out_dir, refuse, reject_rcpt, per_connection,
                 gather=0, gather_timeout=10.0):
        self.out_dir = out_dir
        self.refuse = refuse
        self.reject_rcpt = reject_rcpt
        self.per_connection = per_connection
        self.count = 0
        self.gather = gather
        self.gather_timeout = gather_timeout
        self.in_data = 0
        self.gathered = False
        self.group = 0

    async def wait_for_company(self):
        """Holds a message until `gather` are in DATA at once (or the
        timeout); returns how many were in DATA when it was let through."""
        if self.gathered:
            return self.in_data
        loop = asyncio.get_running_loop()
        end = loop.time() + self.gather_timeout
        while not self.gathered and loop.time() < end:
            if self.in_data >= self.gather:
                self.gathered = True
                self.group = self.in_data
                break
            await asyncio.sleep(0.01)
        # Those waiting when the group formed went on together.
        return self.group if self.gathered else self.in_data

    async def handle_MAIL(self, server, session, envelope, address, options):
        # A cap on messages per connection, enforced as some servers do:
        # the connection is closed when the next message starts.
        if self.per_connection and getattr(session, "souk_sent", 0) >= self.per_connection:
            server.transport.close()
            return "421 4.7.0 Too many messages on this connection"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if self.reject_rcpt and self.reject_rcpt in address:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        self.in_data += 1
        try:
            together = await self.wait_for_company() if self.gather else 1
        finally:
            self.in_data -= 1
        self.count += 1
        session.souk_sent = getattr(session, "souk_sent", 0) + 1
        base = os.path.join(self.out_dir, "%04d" % self.count)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".env", "w") as f:
            f.write("from %s\n" % envelope.mail_from)
            for r in envelope.rcpt_tos:
                f.write("to %s\n" % r)
            f.write("tls %s\n" % ("yes" if session.ssl else "no"))
            f.write("auth %s\n" % (session.authenticated and "yes" or "no"))
            f.write("peer %s\n" % session.peer[1])
            f.write("together %d\n" % together)
        os.rename(base + ".tmp", base + ".eml")
        return "250 2.0.0 Accepted"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--refuse", type=int, default=0)
    p.add_argument("--reject-rcpt", default="")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--user", default="")
    p.add_argument("--password", default="")
    p.add_argument("--idle-timeout", type=float, default=300)
    p.add_argument("--per-connection", type=int, default=0)
    p.add_argument("--gather", type=int, default=0)
    p.add_argument("--gather-timeout", type=float, default=10.0)
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    kwargs = {"timeout": a.idle_timeout}
    if a.tls:
        cert = os.path.join(a.dir, "cert.pem")
        key = os.path.join(a.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                        "-subj", "/CN=localhost"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        kwargs.update(tls_context=ctx, require_starttls=True)
    if a.user:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == a.user
                  and auth_data.password.decode() == a.password)
            return AuthResult(success=ok)
        kwargs.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=a.tls)
    port = free_port()
    controller = Controller(Handler(a.dir, a.refuse, a.reject_rcpt, a.per_connection,
                                    a.gather, a.gather_timeout), hostname="127.0.0.1",
                            port=port, **kwargs)
    controller.start()
    print("listening on %d" % port, flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
