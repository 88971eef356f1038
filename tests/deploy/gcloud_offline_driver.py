"""Runs inside the Google Cloud SDK's own Python: checks gcloud command lines without any server.

Two modes, both behind a guard that refuses (and reports) every connection or name lookup that would
leave loopback, so a check can never reach Google Cloud even if the SDK tried:

* `parse SDK_LIB`: read one JSON argv list per line on stdin and answer one JSON line each, using the
  SDK's own argument parser (the one `gcloud` uses before it runs a command) and nothing after it.
  Loading the CLI once and parsing every command in one process takes about 1 s for dozens of
  commands, where one `gcloud` process per command takes about 1 s each.
* `run SDK_LIB ARG...`: run the real `gcloud ARG...` (parse and run), for cross-checking the parser
  verdict against the real CLI's exit code.
* `decode SDK_LIB`: read one JSON request per line on stdin ({"path", "api", "version", "message",
  optionally "key"}) and decode that YAML/JSON file into the API message gcloud would send (e.g.
  monitoring v3 `AlertPolicy` for `--policy-from-file`), with the SDK's strict decoder: an unknown
  field or enum value is an error, as the API would answer.
"""

import contextlib
import ipaddress
import json
import os
import socket
import sys
import tempfile
import time

BLOCKED_MARKER = "OFFLINE-GUARD-BLOCKED"


def _is_loopback(host):
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what, host):
    sys.stderr.write(f"{BLOCKED_MARKER} {what} {host}\n")
    sys.stderr.flush()
    raise OSError(f"offline check: {what} to {host} refused (only loopback is allowed)")


def install_network_guard():
    """Refuse name lookups and connections to anything but loopback, and say so on stderr."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _is_loopback(host):
            _refuse("lookup", host)
        return real_getaddrinfo(host, *args, **kwargs)

    def _target_host(address):
        return address[0] if isinstance(address, tuple) else None

    def connect(self, address):
        host = _target_host(address)
        if host is not None and not _is_loopback(host):
            _refuse("connect", host)
        return real_connect(self, address)

    def connect_ex(self, address):
        host = _target_host(address)
        if host is not None and not _is_loopback(host):
            _refuse("connect", host)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = lambda host: getaddrinfo(host, None)[0][4][0]
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex


def _import_sdk(sdk_lib):
    sys.path.insert(0, sdk_lib)
    sys.path.insert(0, os.path.join(sdk_lib, "third_party"))
    from googlecloudsdk import gcloud_main

    return gcloud_main


@contextlib.contextmanager
def captured_stderr():
    """Collect what is written to file descriptor 2 (the SDK's logger holds its own stream object)."""
    with tempfile.TemporaryFile(mode="w+") as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        lines = []
        try:
            yield lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read().splitlines())


def parse_commands(sdk_lib, lines, out):
    """Parse each argv with the CLI's parser; an argparse failure becomes ok=false with its message."""
    started = time.time()
    cli = _import_sdk(sdk_lib).CreateCLI([])
    parser = cli._CLI__parser  # the top-level calliope parser that Execute() uses
    out.write(json.dumps({"loaded_seconds": round(time.time() - started, 3)}) + "\n")
    for line in lines:
        argv = json.loads(line)
        began = time.time()
        result = {"argv": argv}
        messages = []  # calliope prints the reason, then exits with status 2
        try:
            with captured_stderr() as messages:
                namespace = parser.parse_args(argv, raise_error=True)
                if namespace.CONCEPT_ARGS is not None:
                    namespace.CONCEPT_ARGS.ParseConcepts()
            command = namespace._GetCommand()
            result.update(ok=not command.is_group, command=".".join(command.GetPath()))
            if command.is_group:
                result["error"] = "names a command group, not a command"
        except BaseException as exc:  # argparse and calliope raise many kinds; SystemExit included
            printed = [text for text in messages if text.startswith("ERROR")]
            result.update(ok=False, error=" ".join(printed) or f"{type(exc).__name__}: {exc}")
        result["blocked"] = [text for text in messages if text.startswith(BLOCKED_MARKER)]
        result["seconds"] = round(time.time() - began, 3)
        out.write(json.dumps(result) + "\n")
        out.flush()


def decode_files(sdk_lib, lines, out):
    """Decode each requested file into its API message type; answer ok or the decoder's complaint."""
    _import_sdk(sdk_lib)
    from googlecloudsdk.api_lib.util import apis
    from googlecloudsdk.api_lib.util import messages as messages_util
    from googlecloudsdk.core import yaml

    for line in lines:
        request = json.loads(line)
        result = {"path": request["path"]}
        try:
            data = yaml.load_path(request["path"])
            if request.get("key"):
                data = data[request["key"]]
            message_type = apis.GetMessagesModule(request["api"], request["version"])
            for part in request["message"].split("."):
                message_type = getattr(message_type, part)
            messages_util.DictToMessageWithErrorCheck(data, message_type)
            result["ok"] = True
        except Exception as exc:  # the decoder raises several kinds; each is a verdict
            result.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        out.write(json.dumps(result) + "\n")
        out.flush()


def run_gcloud(sdk_lib, argv):
    gcloud_main = _import_sdk(sdk_lib)
    sys.argv = ["gcloud"] + argv
    gcloud_main.main()


def main():
    install_network_guard()
    mode, sdk_lib = sys.argv[1], sys.argv[2]
    if mode == "parse":
        parse_commands(sdk_lib, sys.stdin, sys.stdout)
    elif mode == "run":
        run_gcloud(sdk_lib, sys.argv[3:])
    elif mode == "decode":
        decode_files(sdk_lib, sys.stdin, sys.stdout)
    else:
        sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
