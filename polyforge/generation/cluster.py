"""What a campaign on a Ray cluster requires of its config, checked before any worker starts."""

from __future__ import annotations


class RayExecutorError(RuntimeError):
    """The Ray executor cannot run this campaign as configured (what is wrong, and what to set)."""


def check_database_for_cluster(database_url: str, nodes: int) -> None:
    """Workers on several nodes all open the campaign's database: a SQLite file is on one node only."""
    if nodes > 1 and database_url.startswith("sqlite"):
        raise RayExecutorError(
            f"the Ray cluster has {nodes} nodes, and the campaign's database is a SQLite file ({database_url}) "
            "that only this node can open: set database_url to a PostgreSQL server every node reaches, "
            "e.g. postgresql+psycopg://user@db-host/polyforge")


def check_cpus(cpus: float, languages: int, cpus_per_language: float, sandbox: bool) -> None:
    """Each language's worker reserves its CPUs, and a sandbox run takes one more; Ray would wait forever for a
    worker or a run that does not fit."""
    needed = cpus_per_language * languages + (1 if sandbox else 0)
    if needed > cpus:
        runs = " and one for sandbox runs" if sandbox else ""
        raise RayExecutorError(
            f"the Ray cluster has {cpus:g} CPUs and the campaign needs {needed:g}: {cpus_per_language:g} for each "
            f"of its {languages} language workers{runs}; lower workers.cpus_per_language in the config, "
            "or add nodes")
