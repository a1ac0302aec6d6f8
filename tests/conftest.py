from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sample_repo() -> Path:
    return ROOT / "examples" / "sample_repo"


@contextmanager
def fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new database on the test PostgreSQL server."""
    from uuid import uuid4

    from sqlalchemy import create_engine, make_url, text

    from polyforge.storage import database_url

    if kind == "sqlite":
        yield database_url(tmp_path / "db")
        return
    server = os.environ.get("POLYFORGE_TEST_DATABASE_URL")
    if not server:
        reason = "PostgreSQL tests need POLYFORGE_TEST_DATABASE_URL (`make test` starts a server with scripts/test-postgres.sh)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"polyforge_test_{uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(server).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, and a new database on the test PostgreSQL server."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def postgres_url(tmp_path):
    """A fresh database on the test PostgreSQL server."""
    with fresh_database("postgresql", tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster of two simulated nodes (Ray's test cluster utility), 2 CPUs each, for the session;
    this process joins it (the executor uses that connection) and gets its address, for a campaign run as a
    separate command to join."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    yield cluster.address
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="session")
def llama_server_url(tmp_path_factory):
    """A real OpenAI-compatible server (llama.cpp's) serving the bundled model, for the whole session."""
    from servers import llama_server

    from polyforge.llm.embedded import bundled_gguf_path

    with llama_server(bundled_gguf_path(), tmp_path_factory.mktemp("llama") / "server.log") as url:
        yield url


def vllm_python_or_skip():
    """The interpreter with vLLM (`make vllm` builds it; `make test` depends on it); CI fails without it."""
    from polyforge.llm.vllm_server import VLLMUnavailable, find_vllm_python

    try:
        return find_vllm_python()
    except VLLMUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory):
    """A real vLLM OpenAI-compatible server serving the bundled model, started once per session the way a user
    starts one (`polyforge serve vllm`); it must stop cleanly (exit 0) at the end."""
    from servers import ServeVLLM

    vllm_python_or_skip()
    server = ServeVLLM(tmp_path_factory.mktemp("vllm"))
    try:
        server.start()
        yield server
    finally:
        status = server.stop()
    assert status == 0 and "stopped" in server.output, f"serve vllm did not stop cleanly ({status}):\n{server.output[-2000:]}"


@pytest.fixture
def checklist():
    from polyforge.checklists import load_checklist

    return load_checklist("default")


@pytest.fixture
def criteria(checklist) -> list[str]:
    return [c.id for c in checklist.criteria]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A folder holding a tiny random Llama and SmolLM2's tokenizer (training tests start from it)."""
    from training_support import smollm2_tokenizer, tiny_model_folder

    return tiny_model_folder(tmp_path_factory.mktemp("model") / "tiny", smollm2_tokenizer())
