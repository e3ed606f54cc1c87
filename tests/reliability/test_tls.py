"""TLS (rediss://) against a real server with certificates from a CA made in the test.

The embedded Valkey wheel is built without TLS, so these tests use a TLS-capable server on
PATH (Debian's redis-server links OpenSSL; ``.ci/run`` installs it before the test pass).
Outside CI they skip when no such server exists; in CI a missing server is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.core.exceptions import ConfigError, ConnectionProblem
from fairque.server import EmbeddedServer, free_port

ROOT = Path(__file__).resolve().parents[2]


def tls_server_binary() -> str | None:
    for name in ("redis-server", "valkey-server"):
        path = shutil.which(name)
        if path and _built_with_tls(path):
            return path
    return None


def _built_with_tls(binary: str) -> bool:
    # A throwaway start with a missing certificate: a build without TLS says so before it
    # ever looks at the file; a build with TLS fails on the file instead.
    proc = subprocess.run(
        [binary, "--port", "0", "--tls-port", "1", "--tls-cert-file", "/nonexistent"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return "Failed finding TLS support" not in proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("tls")
    server_cert = ca.issue_cert("localhost")
    client_cert = ca.issue_cert("fairque-client@example.com")
    paths = {
        "ca": d / "ca.pem",
        "server_cert": d / "server.pem",
        "server_key": d / "server.key",
        "client_cert": d / "client.pem",
        "client_key": d / "client.key",
        "other_ca": d / "other-ca.pem",
    }
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server_cert.cert_chain_pems[0].write_to_path(str(paths["server_cert"]))
    server_cert.private_key_pem.write_to_path(str(paths["server_key"]))
    client_cert.cert_chain_pems[0].write_to_path(str(paths["client_cert"]))
    client_cert.private_key_pem.write_to_path(str(paths["client_key"]))
    trustme.CA().cert_pem.write_to_path(str(paths["other_ca"]))
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture(scope="module")
def tls_port(files: dict[str, str]) -> Iterator[int]:
    binary = tls_server_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs a TLS-capable redis-server on PATH (.ci/run installs it)")
        pytest.skip("no TLS-capable redis-server/valkey-server on PATH")
    port = free_port()
    tls_args = [
        "--tls-port", str(port),
        "--tls-cert-file", files["server_cert"],
        "--tls-key-file", files["server_key"],
        "--tls-ca-cert-file", files["ca"],
        "--tls-auth-clients", "optional",
    ]  # fmt: skip
    with EmbeddedServer(binary=binary, extra_args=tls_args):
        yield port


def config(url: str, **tls: str | bool) -> FairQueueConfig:
    return FairQueueConfig(redis={"url": url, **tls}, queue={"name": "tls-q"})


def test_a_queue_works_over_tls_with_the_ca_made_here(tls_port, files):
    with TaskQueue(config(f"rediss://localhost:{tls_port}/0", tls_ca_file=files["ca"])) as q:
        q.push(Task.create("u1", payload={"over": "tls"}, task_id="tls-1"))
        got = q.pop()
        assert got is not None and got.payload == {"over": "tls"}
        q.complete(got, result="ok")
        assert q.get_task("tls-1").state == "completed"
        q.client.delete(*q.client.keys("fq:{tls-q}*"))


def test_mutual_tls_with_a_client_certificate(tls_port, files):
    cfg = config(
        f"rediss://localhost:{tls_port}/0",
        tls_ca_file=files["ca"],
        tls_cert_file=files["client_cert"],
        tls_key_file=files["client_key"],
    )
    with TaskQueue(cfg) as q:
        assert q.stats().ready >= 0


@pytest.mark.parametrize(
    ("ca_key", "why"),
    [("other_ca", "certificate verify failed"), (None, "certificate verify failed")],
)
def test_an_untrusted_server_certificate_is_a_clear_tls_error(tls_port, files, ca_key, why):
    tls = {"tls_ca_file": files[ca_key]} if ca_key else {}
    q = TaskQueue(config(f"rediss://:secret@localhost:{tls_port}/0", **tls))
    with pytest.raises(ConnectionProblem, match="TLS handshake with") as info:
        q.open()
    message = str(info.value)
    assert why in message.lower() and "\n" not in message
    assert "secret" not in message  # the password is masked
    q.close()


def test_a_hostname_mismatch_is_refused_unless_switched_off(tls_port, files):
    # The certificate names localhost only, not the address 127.0.0.1.
    url = f"rediss://127.0.0.1:{tls_port}/0"
    q = TaskQueue(config(url, tls_ca_file=files["ca"]))
    with pytest.raises(ConnectionProblem, match="TLS handshake"):
        q.open()
    q.close()
    with TaskQueue(config(url, tls_ca_file=files["ca"], tls_check_hostname=False)) as q:
        assert q.stats().ready >= 0


def test_plain_redis_to_a_tls_port_is_a_connection_problem(tls_port):
    q = TaskQueue(config(f"redis://localhost:{tls_port}/0"))
    with pytest.raises(ConnectionProblem):
        q.open()
    q.close()


def test_tls_files_with_a_plain_url_are_a_config_error(files):
    with pytest.raises(ConfigError, match="tls_ca_file set but url is not rediss://"):
        config("redis://localhost:6379/0", tls_ca_file=files["ca"])
    with pytest.raises(ConfigError, match="no such file"):
        config("rediss://localhost:6379/0", tls_ca_file="/nonexistent/ca.pem")
    with pytest.raises(ConfigError, match="go together"):
        config("rediss://localhost:6379/0", tls_cert_file=files["client_cert"])


def test_the_cli_over_tls_from_the_environment(tls_port, files, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAIRQUE_REDIS__TLS_CA_FILE": files["ca"]}
    base = [sys.executable, "-m", "fairque.cli", "--queue", "tls-cli"]
    url = ["--redis-url", f"rediss://localhost:{tls_port}/0"]
    push = subprocess.run(
        [*base, *url, "push", "--user", "u1", "--payload", '{"a": 1}'],
        env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert push.returncode == 0, push.stderr
    info = subprocess.run(
        [*base, *url, "--json", "info"],
        env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert info.returncode == 0, info.stderr
    assert '"ready": 1' in info.stdout
    env.pop("FAIRQUE_REDIS__TLS_CA_FILE")
    refused = subprocess.run(
        [*base, *url, "info"],
        env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "TLS handshake" in refused.stderr and "Traceback" not in refused.stderr
