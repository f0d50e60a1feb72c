#!/usr/bin/env python3
"""A real SMTP receiver for notifier-email-test (aiosmtpd, Debian's python3-aiosmtpd).

Three listeners on 127.0.0.1:
  --port-starttls  STARTTLS required before anything else, AUTH required (PLAIN/LOGIN)
  --port-implicit  TLS from the first byte (smtps), AUTH required
  --port-plain     no TLS offered, no AUTH (to test starttls=required/none against it)
Every accepted message is written to --dir as NNNN.eml (the raw bytes) and NNNN.json (what
Python's own email parser makes of it: decoded headers, parts, line lengths, defects, and the
SMTP session: TLS, login, envelope), so the C test checks the message with an independent
MIME implementation. Recipients starting with "reject" get 550.

Prints READY once all listeners accept connections; exits when stdin reaches EOF (the test
closed it or died).
"""
import argparse
import email
import email.policy
import json
import logging
import os
import ssl
import sys
import threading
import warnings

# aiosmtpd warns about AUTH without STARTTLS on the implicit-TLS listener, which is TLS anyway.
warnings.filterwarnings("ignore")
logging.getLogger("mail.log").setLevel(logging.ERROR)

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
except ImportError:
    sys.stderr.write("smtp-receiver: python3-aiosmtpd is not installed\n")
    sys.exit(3)

lock = threading.Lock()
counter = [0]


class Handler:
    def __init__(self, mode, outdir):
        self.mode = mode
        self.outdir = outdir

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        lines = raw.split(b"\r\n")
        parts = []
        defects = [str(d) for d in msg.defects]
        for part in msg.walk():
            defects += [str(d) for d in part.defects]
            if part.is_multipart():
                continue
            parts.append({
                "content_type": part.get_content_type(),
                "charset": part.get_content_charset(),
                "transfer_encoding": part.get("Content-Transfer-Encoding", ""),
                "text": part.get_content(),
            })
        date = msg["Date"]
        login = getattr(session.auth_data, "login", None)
        summary = {
            "mode": self.mode,
            "tls": self.mode == "implicit" or session.ssl is not None,
            "login": login.decode() if isinstance(login, bytes) else login,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "subject": str(msg["Subject"]),
            "from": str(msg["From"]),
            "from_name": msg["From"].addresses[0].display_name if msg["From"] else None,
            "from_address": msg["From"].addresses[0].addr_spec if msg["From"] else None,
            "to": [a.addr_spec for a in msg["To"].addresses] if msg["To"] else [],
            "date_unix": int(date.datetime.timestamp()) if date is not None and date.datetime else None,
            "message_id": str(msg["Message-ID"]),
            "delivery": str(msg["X-TechScanIQ-Delivery"]),
            "auto_submitted": str(msg["Auto-Submitted"]),
            "mime_version": str(msg["MIME-Version"]),
            "content_type": msg.get_content_type(),
            "parts": parts,
            "max_line_length": max(len(line) for line in lines),
            "bare_lf": b"\n" in b"".join(lines),
            "defects": defects,
        }
        with lock:
            counter[0] += 1
            base = os.path.join(self.outdir, "%04d" % counter[0])
        # Written under temporary names, then renamed: the test never sees half a file.
        with open(base + ".eml.tmp", "wb") as f:
            f.write(raw)
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(summary, f, ensure_ascii=False, indent=1)
        os.rename(base + ".eml.tmp", base + ".eml")
        os.rename(base + ".json.tmp", base + ".json")
        return "250 2.0.0 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--port-starttls", type=int, required=True)
    parser.add_argument("--port-implicit", type=int, required=True)
    parser.add_argument("--port-plain", type=int, required=True)
    args = parser.parse_args()

    def authenticator(server, session, envelope, mechanism, auth_data):
        if (isinstance(auth_data, LoginPassword)
                and auth_data.login == args.user.encode()
                and auth_data.password == args.password.encode()):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)

    controllers = [
        Controller(Handler("starttls", args.dir), hostname="127.0.0.1", port=args.port_starttls,
                   tls_context=context, require_starttls=True, auth_required=True,
                   authenticator=authenticator),
        # Already TLS: AUTH need not wait for STARTTLS.
        Controller(Handler("implicit", args.dir), hostname="127.0.0.1", port=args.port_implicit,
                   ssl_context=context, auth_required=True, auth_require_tls=False,
                   authenticator=authenticator),
        Controller(Handler("plain", args.dir), hostname="127.0.0.1", port=args.port_plain),
    ]
    started = []
    try:
        for controller in controllers:
            controller.start()
            started.append(controller)
    except Exception as error:  # a port taken meanwhile: the test retries with others
        sys.stderr.write("smtp-receiver: cannot start: %s\n" % error)
        for controller in started:
            controller.stop()
        sys.exit(2)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    try:
        while sys.stdin.read(4096):
            pass
    finally:
        for controller in controllers:
            controller.stop()


if __name__ == "__main__":
    main()
