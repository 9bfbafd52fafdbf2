#!/usr/bin/env python3
"""registry_stub.py: a small Confluent-compatible Schema Registry for the
integration tests (tests/integration/t_codecs.sh), standing in for
Karapace, which PyPI does not serve. It speaks the subset klabel and the
Confluent serializers use:

  POST /subjects/{subject}/versions  {"schema": "..."}  -> {"id": N}
       (the same schema text, compared as parsed JSON, keeps its id)
  GET  /schemas/ids/{id}              -> {"schema": "..."} or 404 (40403)
  GET  /subjects/{subject}/versions/latest -> {"subject", "version", "id", "schema"}
  GET  /subjects                      -> ["...", ...]

With --user USER:PASS every request needs that HTTP basic auth (else 401).
Each request is appended to --log as "METHOD PATH STATUS". The port it
listens on (127.0.0.1, a free one) is written to --port-file."""
import argparse
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.RLock()  # reply() logs under it, also inside handlers
SCHEMAS = {}    # id -> schema text
BY_TEXT = {}    # canonical text -> id
SUBJECTS = {}   # subject -> [id, ...]


def canon(text):
    try:
        return json.dumps(json.loads(text), sort_keys=True)
    except ValueError:
        return text


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with LOCK, open(self.server.logfile, "a") as f:
            f.write(f"{self.command} {self.path} {status}\n")

    def authorized(self):
        if not self.server.user:
            return True
        want = "Basic " + base64.b64encode(self.server.user.encode()).decode()
        if self.headers.get("Authorization") == want:
            return True
        self.reply(401, {"error_code": 401, "message": "Unauthorized"})
        return False

    def do_GET(self):
        if not self.authorized():
            return
        parts = self.path.strip("/").split("/")
        with LOCK:
            if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit():
                sid = int(parts[2])
                if sid in SCHEMAS:
                    return self.reply(200, {"schema": SCHEMAS[sid]})
                return self.reply(404, {"error_code": 40403, "message": f"Schema {sid} not found"})
            if parts == ["subjects"]:
                return self.reply(200, sorted(SUBJECTS))
            if len(parts) == 4 and parts[0] == "subjects" and parts[2:] == ["versions", "latest"]:
                ids = SUBJECTS.get(parts[1])
                if not ids:
                    return self.reply(404, {"error_code": 40401, "message": "Subject not found"})
                return self.reply(200, {"subject": parts[1], "version": len(ids), "id": ids[-1],
                                        "schema": SCHEMAS[ids[-1]]})
        self.reply(404, {"error_code": 404, "message": "not found"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        if not self.authorized():
            return
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "subjects" or parts[2] != "versions":
            return self.reply(404, {"error_code": 404, "message": "not found"})
        try:
            schema = json.loads(body)["schema"]
            json.loads(schema)
        except (ValueError, KeyError, TypeError):
            return self.reply(422, {"error_code": 42201, "message": "Invalid schema"})
        with LOCK:
            c = canon(schema)
            sid = BY_TEXT.get(c)
            if sid is None:
                sid = len(SCHEMAS) + 1
                SCHEMAS[sid] = schema
                BY_TEXT[c] = sid
            ids = SUBJECTS.setdefault(parts[1], [])
            if sid not in ids:
                ids.append(sid)
        self.reply(200, {"id": sid})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--user", help="USER:PASS for HTTP basic auth")
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.user = a.user
    srv.logfile = a.log
    open(a.log, "a").close()
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.replace(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
