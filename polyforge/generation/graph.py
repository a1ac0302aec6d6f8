"""One work item as a LangGraph graph: snippet -> instruction -> answer -> judge -> route."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TypedDict

from langgraph.graph import END, START, StateGraph

from polyforge.agents import ITEM_ERRORS, JudgeAgent, LanguageAgent, StageOutput, TesterAgent, Verdict, code_block
from polyforge.agents.language_agent import Classification
from polyforge.generation.discussion import Turn, build_discussion_graph, discuss
from polyforge.llm import Completion
from polyforge.prompts import Taxonomy
from polyforge.sandbox import Execution, Status, UnknownLanguage, language as sandbox_language
from polyforge.sandbox.pool import ExecutionPool, Job
from polyforge.terms import PairStatus


class WorkItem(TypedDict, total=False):
    snippet_id: int
    language: str
    path: str
    code: str
    seed: int
    target: tuple[str, str]  # (topic, difficulty) to steer the instruction toward, if steering
    mode: str  # how the instruction is made: snippet (default), answer_first, evolve, or transfer (given)
    peers: list[str]  # languages whose agents discuss the drafted instruction (none: no discussion)
    instruction: StageOutput  # mode transfer: the task a discussion carried over into this item's language


class WorkItemState(TypedDict, total=False):
    item: WorkItem
    instruction: StageOutput  # the task to answer (after discussion: the last revision)
    discussion: list[Turn]  # the discussion's transcript, when the item had peers
    transfers: dict[str, StageOutput]  # peer language -> the task carried over into it
    candidates: list[StageOutput]  # every answer sampled (rejection sampling)
    tests: StageOutput  # unit tests the tester wrote for this item's answers
    executions: list[Execution | None]  # one per candidate: its code run with the tests (None: no code to run)
    verdicts: list[Verdict]  # one per candidate, same order
    answer: StageOutput  # the chosen candidate
    verdict: Verdict  # its verdict
    status: str  # accepted / rejected / flagged (from the verdict), duplicate, or failed
    error: str
    novelty: float  # highest similarity of the instruction to the agent's memory
    classification: Classification  # the instruction's topic and difficulty
    memory_id: int  # the instruction's entry in the memory bank


CANDIDATE_SEED_STRIDE = 7919  # candidate i samples with seed + i * stride: distinct, reproducible


def _passed(execution: Execution | None) -> bool:
    return execution is not None and execution.status is Status.PASSED


def _best(verdicts: list[Verdict], executions: list[Execution | None] | None = None) -> int:
    """The candidate that passed its tests with the highest final score (then the best of the rest);
    unscored ones rank last, ties keep the earlier."""
    passed = [_passed(e) for e in executions] if executions else [False] * len(verdicts)
    keys = [(ok, v.final_score if v.final_score is not None else float("-inf")) for ok, v in zip(passed, verdicts)]
    return keys.index(max(keys))


def execution_note(execution: Execution | None) -> str | None:
    """What the judge is told about a candidate's run."""
    if execution is None:
        return None
    return execution.status.value + (f" ({execution.reason})" if execution.reason else "")


def build_item_graph(agents: Mapping[str, LanguageAgent], judge: JudgeAgent, candidates: int = 1,
                     novelty_threshold: float = 0.9, taxonomy: Taxonomy | None = None,
                     tester: TesterAgent | None = None, executor: ExecutionPool | None = None,
                     discussion_rounds: int = 1, transfer: bool = True):
    """Compile the graph once per campaign; every work item runs through it concurrently.

    With `candidates` > 1 the answer is sampled that many times, the judge scores each, and the
    best one becomes the pair's answer; the others remain in the state as DPO material. When the
    agent has a memory bank, an instruction too similar to one it holds is dropped before any
    answer is written (status `duplicate`), and a novel one is remembered at once, so that two
    items in flight cannot both pass with the same task. An item with peers has its drafted
    instruction discussed first (see `discussion.py`); the novelty check sees the revision.
    """
    discussion = build_discussion_graph(agents, discussion_rounds, transfer)

    async def write_instruction(state: WorkItemState) -> WorkItemState:
        item = state["item"]
        agent, mode, target = agents[item["language"]], item.get("mode", "snippet"), item.get("target")
        if mode == "transfer":
            return {"instruction": item["instruction"]}
        try:
            if mode == "answer_first":
                output = await agent.write_instruction_answer_first(item["code"], item["path"], item["seed"], target)
            elif mode == "evolve":
                output = await agent.evolve_seed(item["code"], item["seed"], target)
            else:
                output = await agent.write_instruction(item["code"], item["path"], item["seed"], target)
        except ITEM_ERRORS as exc:
            return {"status": "failed", "error": f"instruction: {exc}"}
        return {"instruction": output}

    async def discuss_instruction(state: WorkItemState) -> WorkItemState:
        item = state["item"]
        outcome = await discuss(discussion, item["language"], item["peers"], state["instruction"], item["seed"])
        update: WorkItemState = {"instruction": outcome["instruction"], "discussion": outcome["turns"],
                                 "transfers": outcome.get("transfers", {})}
        if "error" in outcome:
            update.update(status="failed", error=f"discussion: {outcome['error']}")
        return update

    def check_novelty(state: WorkItemState) -> WorkItemState:
        memory = agents[state["item"]["language"]].memory
        if memory is None:
            return {}
        instruction = state["instruction"].text
        vector = memory.embedder.encode([instruction])  # embedded once: checked, then remembered
        similarity = memory.novelty_of_vector(vector[0])
        if similarity >= novelty_threshold:
            return {"status": "duplicate", "novelty": similarity,
                    "error": f"novelty: {similarity:.3f} similar to an instruction in memory "
                             f"(threshold {novelty_threshold})"}
        entry = memory.new_entry("generated", instruction)
        memory.add([entry], vector)
        return {"novelty": similarity, "memory_id": entry.id}

    async def classify(state: WorkItemState) -> WorkItemState:
        if taxonomy is None:
            return {}
        item = state["item"]
        try:
            labels = await agents[item["language"]].classify(state["instruction"].text, taxonomy, item["seed"])
        except ITEM_ERRORS as exc:
            return {"status": "failed", "error": f"classify: {exc}"}
        return {"classification": labels}

    def remember(state: WorkItemState) -> WorkItemState:
        memory = agents[state["item"]["language"]].memory
        if memory is not None and "memory_id" in state and state.get("status") == PairStatus.accepted:
            memory.mark(state["memory_id"], PairStatus.accepted, state["answer"].text)
        return {}

    async def write_answers(state: WorkItemState) -> WorkItemState:
        item = state["item"]
        agent = agents[item["language"]]
        results = await asyncio.gather(
            *(agent.write_answer(state["instruction"].text, item["seed"] + i * CANDIDATE_SEED_STRIDE)
              for i in range(candidates)),
            return_exceptions=True,
        )
        unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, ITEM_ERRORS)]
        if unexpected:
            raise unexpected[0]
        written = [r for r in results if isinstance(r, StageOutput)]
        if not written:  # one good candidate is enough to go on
            return {"status": "failed", "error": f"answer: {results[0]}"}
        return {"candidates": written}

    async def execute(state: WorkItemState) -> WorkItemState:
        """The tester writes tests from the first candidate's code; the sandbox runs every candidate.

        A language the sandbox lacks, or answers without a code block, leave the item unexecuted;
        a tester failure is recorded and the item goes on to the judge.
        """
        item = state["item"]
        if tester is None or executor is None:
            return {}
        try:
            runnable = sandbox_language(item["language"]).name
        except UnknownLanguage:
            return {}
        codes = [code_block(candidate.text) for candidate in state["candidates"]]
        first = next((code for code in codes if code), None)
        if first is None:
            return {"executions": [None] * len(codes)}
        try:
            tests = await tester.write_tests(item["language"], state["instruction"].text, first, item["seed"])
        except ITEM_ERRORS as exc:
            return {"error": f"tester: {exc}"}

        async def run(code: str | None) -> Execution | None:
            return await executor.arun(Job(runnable, {"main": code}, test=tests.text)) if code else None

        return {"tests": tests, "executions": list(await asyncio.gather(*(run(code) for code in codes)))}

    async def judge_candidates(state: WorkItemState) -> WorkItemState:
        item = state["item"]
        executions = state.get("executions") or [None] * len(state["candidates"])
        try:
            verdicts = await asyncio.gather(
                *(judge.judge(item["language"], state["instruction"].text, candidate.text, item["seed"],
                              execution_status=execution.status.value if execution else None,
                              execution_note=execution_note(execution))
                  for candidate, execution in zip(state["candidates"], executions))
            )
        except ITEM_ERRORS as exc:
            return {"status": "failed", "error": f"judge: {exc}"}
        best = _best(verdicts, executions)
        return {"verdicts": verdicts, "answer": state["candidates"][best], "verdict": verdicts[best],
                "status": verdicts[best].route.value}

    def continue_unless_ended(next_node: str):
        def decide(state: WorkItemState) -> str:
            return END if state.get("status") in ("failed", "duplicate") else next_node

        return decide

    def discuss_if_peers(state: WorkItemState) -> str:
        if state.get("status") == "failed":
            return END
        return "discuss" if state["item"].get("peers") else "check_novelty"

    graph = StateGraph(WorkItemState)
    graph.add_node("write_instruction", write_instruction)
    graph.add_node("discuss", discuss_instruction)
    graph.add_node("check_novelty", check_novelty)
    graph.add_node("classify", classify)
    graph.add_node("write_answers", write_answers)
    graph.add_node("execute", execute)
    graph.add_node("judge", judge_candidates)
    graph.add_node("remember", remember)
    graph.add_edge(START, "write_instruction")
    graph.add_conditional_edges("write_instruction", discuss_if_peers, ["discuss", "check_novelty", END])
    graph.add_conditional_edges("discuss", continue_unless_ended("check_novelty"), ["check_novelty", END])
    graph.add_conditional_edges("check_novelty", continue_unless_ended("classify"), ["classify", END])
    graph.add_conditional_edges("classify", continue_unless_ended("write_answers"), ["write_answers", END])
    graph.add_conditional_edges("write_answers", continue_unless_ended("execute"), ["execute", END])
    graph.add_edge("execute", "judge")
    graph.add_conditional_edges("judge", continue_unless_ended("remember"), ["remember", END])
    graph.add_edge("remember", END)
    return graph.compile()


def stage_completions(state: WorkItemState) -> dict[str, list[Completion]]:
    """Every completion a work item spent, by stage (retries included)."""
    turns, classification = state.get("discussion") or [], state.get("classification")
    draft = turns[0].output if turns else state.get("instruction")
    return {
        "instruction": draft.completions if draft else [],
        # A transfer's completions belong to the pair it became, in that pair's instruction stage.
        "discussion": [c for turn in turns[1:] if turn.role != "transfer" for c in turn.output.completions],
        "classify": classification.completions if classification else [],
        "answer": [c for candidate in state.get("candidates", []) for c in candidate.completions],
        "tester": state["tests"].completions if state.get("tests") else [],
        "judge": [c for verdict in state.get("verdicts", []) for c in verdict.completions],
    }


def preferences(state: WorkItemState) -> list[tuple[StageOutput, Verdict]]:
    """The candidates the chosen answer beat, on final score or by passing the tests they failed:
    (rejected candidate, its verdict)."""
    chosen = state.get("verdict")
    if chosen is None or chosen.final_score is None:
        return []
    executions = state.get("executions") or [None] * len(state["candidates"])
    chosen_passed = _passed(next(e for v, e in zip(state["verdicts"], executions) if v is chosen))
    return [
        (candidate, verdict)
        for candidate, verdict, execution in zip(state["candidates"], state["verdicts"], executions)
        if verdict is not chosen and (verdict.final_score is None or verdict.final_score < chosen.final_score
                                      or (chosen_passed and not _passed(execution)))
    ]


async def run_item(graph, item: WorkItem) -> WorkItemState:
    return await graph.ainvoke({"item": item})
