"""`serve vllm --replicas N`: each replica on its own GPU of those visible, or its own share of the cores, and
too few of either said in words before anything starts."""

import os

import pytest
from typer.testing import CliRunner

from conftest import vllm_python_or_skip
from polyforge.cli import app
from polyforge.llm.vllm_server import VLLMUnavailable, replica_environments, visible_gpus


def test_each_replica_gets_its_own_visible_gpu():
    assert replica_environments(2, ["2", "3"], [0, 1]) == [{"CUDA_VISIBLE_DEVICES": "2"},
                                                           {"CUDA_VISIBLE_DEVICES": "3"}]
    assert replica_environments(1, ["2", "3"], [0]) == [{}]  # one replica keeps what the user made visible
    with pytest.raises(VLLMUnavailable, match=r"3 replicas need a GPU each; 2 visible \(2, 3\)"):
        replica_environments(3, ["2", "3"], list(range(8)))


def test_cpu_replicas_share_the_cores_out():
    assert replica_environments(2, [], [0, 1, 2, 3]) == [{"VLLM_CPU_OMP_THREADS_BIND": "0,1"},
                                                         {"VLLM_CPU_OMP_THREADS_BIND": "2,3"}]
    assert replica_environments(1, [], [0, 1]) == [{}]
    with pytest.raises(VLLMUnavailable, match="3 CPU replicas need a core each"):
        replica_environments(3, [], [0, 1])


def test_visible_gpus_follow_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1, GPU-5f2c")
    assert visible_gpus() == ["1", "GPU-5f2c"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus() == []  # an empty list hides every GPU, as CUDA reads it


def test_more_replicas_than_cores_is_a_message_not_a_traceback():
    vllm_python_or_skip()
    gpus = visible_gpus()
    too_many = (len(gpus) if gpus else len(os.sched_getaffinity(0))) + 1
    result = CliRunner().invoke(app, ["serve", "vllm", "--replicas", str(too_many), "--port", "18431"])
    assert result.exit_code == 2, result.output
    expected = f"{too_many} replicas need a GPU each" if gpus else f"{too_many} CPU replicas need a core each"
    assert expected in result.output and "Traceback" not in result.output
