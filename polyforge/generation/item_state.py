"""What flows through the item graph: the work item, the state its steps fill in, and their contract.

Each step of the item graph declares the state fields it reads and the ones it writes (see `Step`).
A step runs only when everything it reads is there, and what it returns is checked against what it
declared and against the field's type, so a missing or mistyped value fails at the step that caused
it, not three steps later.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from polyforge.agents import StageOutput, Verdict
from polyforge.agents.language_agent import Classification
from polyforge.generation.discussion import Turn
from polyforge.sandbox import Execution
from polyforge.terms import GATE, PairStatus

TRANSFER_MODE = "transfer"  # the mode of an item whose task a discussion carried over from another language
GIVEN_MODE = "given"  # the mode of an item whose task is a row of an instruction dataset


@dataclass(frozen=True)
class WorkItem:
    """One snippet for one language agent: the unit of work that becomes (at most) one pair."""

    snippet_id: int
    language: str
    path: str
    code: str
    seed: int  # every sample of the item derives its seed from this one
    mode: str = "snippet"  # how the instruction is made: snippet, answer_first, evolve; transfer or given: not made
    peers: tuple[str, ...] = ()  # languages whose agents discuss the drafted instruction (none: no discussion)
    target: tuple[str, str] | None = None  # (topic, difficulty) to steer the instruction toward, if steering
    # The task, when it is not written: carried into this language by a discussion (transfer), or a dataset's row
    # (given; `code` is then empty: there is no snippet behind it)
    instruction: StageOutput | None = None


@dataclass(frozen=True)
class Repair:
    """A candidate written as the fix of an earlier one, from what the sandbox said of that one's run."""

    broken: int  # the index of the candidate it fixes
    feedback: str  # what the model was shown of the broken candidate's run (`sandbox_feedback`)


@dataclass
class ItemState:
    """Everything the item graph learns about one work item, filled in step by step."""

    item: WorkItem
    instruction: StageOutput | None = None  # the task to answer (after discussion: the last revision)
    discussion: list[Turn] = field(default_factory=list)  # the transcript, when the item had peers
    transfers: dict[str, StageOutput] = field(default_factory=dict)  # peer language -> the task carried over
    novelty: float | None = None  # highest similarity of the instruction to the agent's memory
    memory_id: int | None = None  # the instruction's entry in the memory bank
    classification: Classification | None = None  # the instruction's topic and difficulty
    candidates: list[StageOutput] = field(default_factory=list)  # every answer sampled (rejection sampling)
    answer_calls: int = 0  # answers asked for so far, written or not (candidates until a pass: one per round)
    screened_out: dict[int, str] = field(default_factory=dict)  # candidate index -> the gate that dropped it
    written_tests: StageOutput | None = None  # the tester's reply, as written
    tests: StageOutput | None = None  # the unit tests run against this item's answers (the tester's own copies cut)
    executions: list[Execution | None] = field(default_factory=list)  # per candidate (None: no code to run)
    repairs: dict[int, Repair] = field(default_factory=dict)  # candidate index -> the failed candidate it fixes
    untestable: bool = False  # the sandbox cannot run the item's language: no answer can pass tests
    verdicts: list[Verdict | None] = field(default_factory=list)  # per candidate (None: screened out, not judged)
    answer: StageOutput | None = None  # the chosen candidate
    verdict: Verdict | None = None  # its verdict
    status: PairStatus | None = None  # set by the judge's route, or by a step that ends the item early
    error: str | None = None  # why the item failed or was dropped (a gate's reason starts with `gate: `)


# Any step may end the item: it then writes a status (failed, duplicate, contaminated, or rejected by a gate) and an error.
ENDING_FIELDS = ("status", "error")
STATE_FIELDS = tuple(f.name for f in dataclasses.fields(ItemState))
_HINTS = typing.get_type_hints(ItemState)


class ContractError(TypeError):
    """A step read a field no earlier step wrote, or wrote one it did not declare, or a value of the wrong type."""


def conforms(value: object, hint: object) -> bool:
    """Whether `value` has the type `hint` names (unions, lists, tuples and dicts looked into)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, option) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (inner,) = typing.get_args(hint)
        return isinstance(value, list) and all(conforms(element, inner) for element in value)
    if origin is dict:
        key_hint, value_hint = typing.get_args(hint)
        return isinstance(value, dict) and all(conforms(k, key_hint) and conforms(v, value_hint)
                                               for k, v in value.items())
    if origin is tuple:
        return isinstance(value, tuple)
    return isinstance(value, hint)


StepFunction = Callable[[ItemState], Awaitable[dict] | dict]


@dataclass(frozen=True)
class Step:
    """One node of the item graph with its contract: the fields it needs set, and the fields it may set."""

    name: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    run: StepFunction

    def __post_init__(self) -> None:
        unknown = sorted((set(self.reads) | set(self.writes)) - set(STATE_FIELDS))
        if unknown:
            raise ContractError(f"step {self.name}: no state field(s) {unknown}")

    async def __call__(self, state: ItemState) -> dict:
        missing = [name for name in self.reads if getattr(state, name) is None]
        if missing:
            raise ContractError(f"step {self.name} reads {missing}, which no earlier step set")
        update = self.run(state)
        if isinstance(update, Awaitable):
            update = await update
        for name, value in update.items():
            if name not in self.writes and name not in ENDING_FIELDS:
                raise ContractError(f"step {self.name} wrote {name!r}, which it does not declare")
            if not conforms(value, _HINTS[name]):
                raise ContractError(f"step {self.name} wrote {name}={value!r:.80}, not a {_HINTS[name]}")
        return update


def ended(status: PairStatus, error: str) -> dict:
    """The update of a step that ends the item early."""
    return {"status": status, "error": error}




def dropped(reason: str) -> dict:
    """The update of a gate that drops the item before the judge: rejected, with the gate's reason."""
    return ended(PairStatus.rejected, GATE + reason)
