"""Campaign configuration: a YAML file validated by pydantic.

The config is the interface of a campaign: every field is documented here, unknown keys are
errors (a typo must not silently fall back to a default), and a bad file fails before any work
with a message naming the key, what was found and what is expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from polyforge.languages import language_by_name
from polyforge.terms import CODE_BLOCK_END


class ConfigError(ValueError):
    """A campaign config that cannot be used; the message names the file and the key."""


class _PathMarker:
    def __init__(self, doc: str):
        self.doc = doc

    def __repr__(self) -> str:
        return self.doc


# Every path in a config file is relative to that file's folder (`load_config` resolves them):
RELATIVE = _PathMarker("a path, relative to the config file's folder")
# ... and so is a value that names either something bundled or a file, when such a file is there.
NAME_OR_PATH = _PathMarker("a bundled name, or a path relative to the config file's folder")
# Work items in flight for a model in this process (concurrency: auto): its calls share one engine.
AUTO_ITEMS_IN_PROCESS = 4


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InstructionFields(_Strict):
    """Which of an instruction dataset's fields holds each part of a task."""

    instruction: str = Field(default="instruction", min_length=1, description="The task's text.")
    language: str = Field(
        default="language", min_length=1,
        description="The language the answer is written in, by a name `polyforge identify` prints or an alias "
        "(Python, C++, py, cpp, ...).")
    id: str = Field(default="id", min_length=1, description="The row's id, carried by its pair and export rows.")


class CorpusFields(_Strict):
    """Which of a code corpus's fields holds each part of a file (the defaults fit The Stack v2); null: the corpus
    has no such field."""

    content: str = Field(default="content", min_length=1, description="The file's text.")
    path: str = Field(default="path", min_length=1, description="The file's path in its repository.")
    repo: str | None = Field(default="repo_name", description="The repository (the snippet's source in provenance).")
    license: str | None = Field(
        default="detected_licenses",
        description="The file's SPDX license id, or a list of them; with ingest.license_allowlist, a row is read only "
        "when it names licenses and every one is allowed.")
    language: str | None = Field(
        default="language",
        description="The file's language by a name `polyforge identify` prints or an alias; an unknown name or none: "
        "identified from the path and content.")


class SourceConfig(_Strict):
    """One place to take work from: a local folder or a git URL of code (cloned shallowly), a corpus of code files,
    or a dataset of tasks."""

    path: Annotated[Path | None, RELATIVE] = Field(default=None, description="A local folder.")
    url: str | None = Field(default=None, description="A git URL, e.g. https://github.com/owner/repo.git.")
    instructions: Annotated[Path | None, RELATIVE] = Field(
        default=None,
        description="A dataset of tasks (a JSON Lines or Parquet file, or a folder written by datasets' "
        "save_to_disk): each row is answered, tested and judged as given, with no instruction written.",
    )
    files: Annotated[Path | None, RELATIVE] = Field(
        default=None,
        description="A corpus of code files, one a row: a Parquet or JSON Lines file, a folder of such shards, a glob "
        "(relative to the config file's folder), or a folder written by datasets' save_to_disk; streamed in batches.",
    )
    fields: Annotated[Annotated[InstructionFields, Tag("")] | Annotated[CorpusFields, Tag("files")],
                      Discriminator(lambda value: "files" if isinstance(value, CorpusFields) else "")] = Field(
        default_factory=InstructionFields,
        description="The dataset's field names: for 'instructions', each part of a task, e.g. {instruction: prompt, "
        "language: lang, id: task_id}; for 'files', each part of a file, e.g. {content: text, repo: null}.",
    )

    @model_validator(mode="before")
    @classmethod
    def _fields_of_the_kind(cls, data: Any) -> Any:
        """`fields` names a corpus's columns when the source is `files`, a task dataset's otherwise."""
        if isinstance(data, dict) and data.get("files") is not None:
            try:
                data = {**data, "fields": CorpusFields.model_validate(data.get("fields") or {})}
            except ValidationError as exc:
                raise ValueError(f"'fields' of a corpus ('files') names some of {', '.join(CorpusFields.model_fields)}"
                                 f": {exc.errors()[0]['loc'][0]!r}: {exc.errors()[0]['msg']}") from None
        return data

    @model_validator(mode="after")
    def _one_location(self) -> "SourceConfig":
        if sum(location is not None for location in (self.path, self.url, self.instructions, self.files)) != 1:
            raise ValueError("give exactly one of 'path' (a local folder), 'url' (a git URL), 'files' (a corpus of "
                             "code files) or 'instructions' (a dataset of tasks)")
        if "fields" in self.model_fields_set and self.instructions is None and self.files is None:
            raise ValueError("'fields' names the columns of a dataset: give it with 'instructions' or 'files'")
        return self

    @property
    def location(self) -> str:
        given = (self.url, self.files, self.path, self.instructions)
        return str(next(location for location in given if location is not None))


class PriceConfig(_Strict):
    """What a model costs, in one currency of your choosing (the figures carry no unit): per token for a hosted API,
    per GPU-hour for a self-hosted server, or both. `status`, `report` and `prompts compare` show the cost so far and
    per accepted pair; `polyforge run CONFIG --estimate N` projects it for the whole campaign."""

    prompt: float = Field(default=0.0, ge=0, description="Per million prompt tokens.")
    cached_prompt: float | None = Field(
        default=None, ge=0,
        description="Per million prompt tokens the server took from its prefix cache (hosted APIs often charge "
        "less for them); default: the prompt price.")
    completion: float = Field(default=0.0, ge=0, description="Per million completion tokens.")
    gpu_hour: float = Field(
        default=0.0, ge=0,
        description="Per GPU-hour of a self-hosted server, charged for the wall time of the campaign's runs (the "
        "server is held while a run goes on), for every server of the model (each base_url; one for an in-process "
        "model). Roles that name the same servers are charged once.")
    gpus: int = Field(default=1, ge=1, description="GPUs per server, for gpu_hour.")

    @property
    def cached_rate(self) -> float:
        return self.prompt if self.cached_prompt is None else self.cached_prompt


class ModelConfig(_Strict):
    """One LLM endpoint.

    `embedded` runs a GGUF model in process through llama-cpp-python (no server needed; SmolLM2-135M-Instruct unless
    `model` names another);
    `openai` talks to any OpenAI-compatible server: vLLM (`polyforge serve vllm`, `vllm serve ...`), SGLang,
    llama.cpp's server or a hosted API; `vllm` runs vLLM's engine in process (an environment with vLLM:
    `make vllm` on a CPU machine), batching every request in flight.
    """

    backend: Literal["embedded", "openai", "vllm"] = Field(
        default="embedded", description="embedded (in process), openai (a server) or vllm (vLLM's engine in process).")
    model: Annotated[str | None, NAME_OR_PATH] = Field(
        default=None,
        description="Model name sent to the server (openai); for embedded a GGUF file path or a known model's name, "
        "smollm2-135m (the default), qwen2.5-coder-0.5b (installed by `make install`) or qwen2.5-coder-1.5b (after "
        "`make qwen`), see polyforge/llm/models.py; for vllm "
        "a transformers model folder (default: the bundled SmolLM2 converted once).",
    )
    base_url: str | list[str] | None = Field(
        default=None,
        description="Server URL, e.g. http://127.0.0.1:8000/v1, or a list of URLs of servers of the same model "
        "(openai only): requests go to the one with the fewest in flight; one that keeps failing is ejected "
        "and re-admitted once it answers GET /models again.",
    )
    api_key_env: str = Field(default="OPENAI_API_KEY", description="Environment variable holding the API key (openai only).")
    response_format: Literal["json_schema", "json_object"] = Field(
        default="json_schema",
        description=(
            "How structured output is requested (openai only): 'json_schema' (the OpenAI form: vLLM, SGLang, "
            "llama.cpp's llama-server, hosted APIs) or 'json_object' with a 'schema' (llama-cpp-python's server)."
        ),
    )
    timeout_s: float = Field(default=120.0, gt=0, description="Seconds before one request is abandoned.")
    max_attempts: int = Field(default=6, ge=1, description="Tries per request on timeouts, 429, 5xx, drops (openai).")
    retry_initial_s: float = Field(default=0.5, gt=0, description="First backoff delay; it doubles, with jitter.")
    max_concurrency: int = Field(
        default=16, ge=1, description="Most requests in flight to this server; halves on 429/503, regrows (openai)."
    )
    eject_after: int = Field(default=3, ge=1, description="Failed calls in a row (after retries) that eject an endpoint.")
    probe_interval_s: float = Field(default=5.0, gt=0, description="Seconds between health checks of an ejected endpoint.")
    outage_wait_s: float = Field(
        default=600.0, ge=0,
        description="How long a campaign waits when every endpoint of this model is down before it stops "
        "(resumable: the same command goes on); items in flight stay pending, never failed.",
    )
    context_tokens: int = Field(default=2048, ge=256, description="Context window of the embedded and vllm backends.")
    engine_args: dict[str, Any] = Field(
        default_factory=dict,
        description="More vLLM engine arguments for the vllm backend, as vLLM names them (AsyncEngineArgs), e.g. "
        "{tensor_parallel_size: 2, gpu_memory_utilization: 0.85, enforce_eager: true}.",
    )
    threads: int | None = Field(default=None, ge=1, description="CPU threads of the embedded model (default: all cores).")
    price: PriceConfig | None = Field(
        default=None, description="What this model's calls cost (default: nothing; see PriceConfig), e.g. "
        "{prompt: 0.15, completion: 0.6} for a hosted API or {gpu_hour: 2.5} for a vLLM server.")

    @model_validator(mode="after")
    def _openai_needs_endpoint(self) -> "ModelConfig":
        if self.backend == "openai" and (not self.base_urls or not self.model):
            raise ValueError("the openai backend needs both 'base_url' (e.g. http://127.0.0.1:8000/v1, or a list "
                             "of them) and 'model'")
        if self.engine_args and self.backend != "vllm":
            raise ValueError(f"'engine_args' is for the vllm backend only (this model's backend is {self.backend!r})")
        return self

    @property
    def base_urls(self) -> list[str]:
        """The endpoints, as a list whether one URL or several were given."""
        if self.base_url is None:
            return []
        return [self.base_url] if isinstance(self.base_url, str) else list(self.base_url)


class ModelsConfig(_Strict):
    """The models of a campaign, by role; the roles that name none use the generator."""

    generator: ModelConfig = Field(default_factory=ModelConfig, description="Writes instructions and answers.")
    judge: ModelConfig | None = Field(default=None, description="Scores pairs; defaults to the generator.")
    tester: ModelConfig | None = Field(
        default=None,
        description="Writes the unit tests the sandbox runs; defaults to the generator. Its tests decide what is "
        "accepted, so a stronger model pays here first (BENCHMARKS.md: tests each model writes).",
    )
    second_judge: ModelConfig | None = Field(
        default=None,
        description=(
            "An optional second judge (ensemble): it scores every pair too, its samples join the mean, "
            "and a gap between the two judges flags the pair (judge.max_judge_gap)."
        ),
    )


class StageSampling(_Strict):
    """How one stage samples from its model."""

    temperature: float = Field(default=0.7, ge=0, le=2, description="Sampling temperature (0: greedy).")
    top_p: float = Field(default=0.95, gt=0, le=1, description="Nucleus sampling: the probability mass drawn from.")
    max_tokens: int = Field(default=256, ge=1, description="Most completion tokens of one reply.")
    stop: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="Generation ends before the first of these strings (left out of the reply).")


class SamplingConfig(_Strict):
    """Sampling per stage: instructions want variety, the judge wants determinism."""

    instruction: StageSampling = Field(
        default_factory=lambda: StageSampling(temperature=0.8, max_tokens=160),
        description="The sampling of instructions, and of a discussion's critiques, revisions and transfers.")
    answer: StageSampling = Field(
        default_factory=lambda: StageSampling(temperature=0.5, max_tokens=320),
        description="The answer's sampling. Leave `stop` out and the reply ends with its code block (the prompt asks "
        "for the code in one block): what a model adds after the block is not generated; `stop: []` keeps it.")
    judge: StageSampling = Field(
        default_factory=lambda: StageSampling(temperature=0.0),
        description="The judge's sampling. Leave max_tokens out to have it derived from the checklist (the "
        "longest valid reply, with or without rationales); a value set here must be at least that.",
    )
    tester: StageSampling = Field(
        default_factory=lambda: StageSampling(temperature=0.2, max_tokens=384),
        description="The tester's sampling. Leave `stop` out and the reply ends with its code block, as the answer's "
        "(so a higher max_tokens costs only where tests run long; tests cut off are no tests, and the item's answers "
        "then cannot pass).")
    seed: int = Field(default=0, description="Base seed; each work item derives its own from it.")
    candidates: int = Field(
        default=1, ge=1, le=16,
        description="Answers sampled per instruction (rejection sampling): the judge keeps the best, "
        "and each lower-scored one becomes a DPO preference pair.",
    )
    candidates_until_pass: bool = Field(
        default=False,
        description="Write the candidates one at a time and stop at the first whose tests pass (needs execution): "
        "the later ones are not written, so such an item gives no DPO preference; an item with no pass gets them "
        "all. Saves the answers that could not win.",
    )
    answer_again_after: list[Literal["failed", "timeout", "memory_limit", "compile_error", "runtime_error"]] = Field(
        default_factory=lambda: ["failed", "timeout", "memory_limit"],
        description="With candidates_until_pass: how a candidate's run must end for another candidate to be "
        "written. By default after a wrong result, a timeout or a memory limit (the answer built and ran with the "
        "tests; another answer may pass). A compile or runtime error against tests written for the first "
        "candidate's interface mostly comes back with every answer (BENCHMARKS.md: early rejection); add "
        "compile_error and runtime_error for a model whose such errors are its own and vary from answer to answer.",
    )

    repair_turns: int = Field(
        default=0, ge=0, le=8,
        description="When a candidate's code fails its tests (a wrong result, a compile or runtime error, a timeout), "
        "show the model the sandbox's output and ask for a fix, up to this many times per item (needs execution). "
        "A fix that passes is the pair's answer; the fix over the broken answer is a DPO preference (kind "
        "'repair') and the exchange a multi-turn SFT row (training.repair_conversations). 0: no repair.",
    )

    @model_validator(mode="after")
    def _code_replies_end_with_their_code_block(self) -> SamplingConfig:
        if "stop" not in self.answer.model_fields_set:
            self.answer = self.answer.model_copy(update={"stop": [CODE_BLOCK_END]})
        if "stop" not in self.tester.model_fields_set:
            self.tester = self.tester.model_copy(update={"stop": [CODE_BLOCK_END]})
        return self


class BudgetConfig(_Strict):
    """How much a run may make and spend; the next run of the same config goes on from there."""

    max_pairs: int = Field(default=20, ge=1, description="Stop scheduling work items after this many pairs.")
    max_tokens: int | None = Field(default=None, ge=1, description="Stop scheduling once this many tokens were spent.")
    max_snippets_per_language: int | None = Field(
        default=None, ge=1, description="Spread the pair budget across languages instead of draining the first one."
    )


class JudgeConfig(_Strict):
    """How pairs are judged, and what routes them to accepted, rejected or flagged."""

    checklist: Annotated[str, NAME_OR_PATH] = Field(
        default="default", description="A checklist name in polyforge/checklists/ or a path to a checklist YAML file."
    )
    rationales: bool | None = Field(
        default=None,
        description=(
            "Ask for a one-sentence rationale with each criterion's score. Unset: on when the judge is an "
            "OpenAI-compatible server, off for the embedded model (there it costs ~5x the judge tokens)."
        ),
    )
    max_retries: int = Field(default=2, ge=0, description="Retries of malformed structured output before the pair is flagged.")
    samples: int = Field(
        default=1, ge=1,
        description=(
            "Judge samples per pair (k) from each judge model; scores are their mean. Each sample is a full "
            "judge call, so k multiplies the judge's cost; k > 1 needs sampling.judge.temperature > 0."
        ),
    )
    max_spread: float = Field(
        default=1.5, ge=0,
        description="Flag the pair when the standard deviation of one judge's sample final scores exceeds this.",
    )
    max_judge_gap: float = Field(
        default=2.0, ge=0,
        description="Flag the pair when the two judges' mean final scores differ by more than this (second_judge).",
    )
    max_sandbox_gap: float = Field(
        default=5.0, ge=0,
        description=(
            "Flag the pair when the judge's score on a 'sandbox' criterion differs from the sandbox's verdict "
            "(passed: the scale's top, any failure: its bottom) by more than this."
        ),
    )
    accept_only_tested: bool | None = Field(
        default=None,
        description=(
            "Accept only pairs whose answer passed its tests in the sandbox (tests that are evidence, not vacuous); "
            "a pair the judge would accept without that is flagged 'no passing tests' for a person to look at. "
            "Unset: on whenever execution is on (small judges pass broken code: BENCHMARKS.md, the judge against "
            "known answers). false: the judge's score alone decides, as with execution off."
        ),
    )
    when_untestable: Literal["flag", "accept_on_judge_score"] = Field(
        default="flag",
        description=(
            "With accept_only_tested: what becomes of a pair in a language the sandbox cannot run. 'flag': flagged "
            "'untestable' for a person to decide, never accepted; 'accept_on_judge_score': the judge's score decides "
            "for such languages alone (their accepted pairs are unverified)."
        ),
    )
    preferences_from_scores: bool = Field(
        default=False,
        description=(
            "Also record DPO preferences that rest on the judge's scores alone (chosen scored higher, but the "
            "tests do not tell the two apart). By default a preference comes from execution only: the chosen "
            "answer passed its tests and the rejected one did not (or a gate dropped it). Exports label each "
            "row's kind."
        ),
    )


class IngestConfig(_Strict):
    """The ingest stage: which files are read, how snippets are cut, and what is filtered out."""

    # Snippets
    max_snippet_tokens: int = Field(default=1024, ge=16, description="A longer definition is split into its inner ones, or dropped.")
    min_snippet_lines: int = Field(default=3, ge=1, description="Shorter definitions are dropped ('too short').")
    min_snippet_tokens: int = Field(default=16, ge=0, description="Snippets with fewer tokens are dropped ('too short').")
    min_code_chars: int = Field(
        default=20, ge=0, description="Snippets with fewer non-blank characters outside comments are dropped ('no code')."
    )
    # Files
    max_file_bytes: int = Field(default=1_000_000, ge=1, description="Larger files are skipped ('too large').")
    minified_line_chars: int = Field(
        default=300, ge=20, description="Files whose mean line length exceeds this are skipped ('minified')."
    )
    respect_gitignore: bool = Field(default=True, description="Skip what the sources' .gitignore files ignore.")
    skip_vendored: bool = Field(default=True, description="Skip vendored code (Linguist's rules: vendor/, node_modules/, ...).")
    skip_generated: bool = Field(default=True, description="Skip generated files (Linguist's rules: lock files, protobuf output, ...).")
    license_allowlist: list[str] | None = Field(
        default=None,
        description="SPDX ids (e.g. [MIT, Apache-2.0]); a repository under any other license, or none found, is skipped.",
    )
    clone_dir: Annotated[Path | None, RELATIVE] = Field(default=None, description="Where git URLs are cloned (default: the system temp folder).")
    workers: int = Field(
        default=0, ge=0, description="Processes that read, identify and cut files (0: one per CPU core; 1: no pool)."
    )
    # Filters
    near_duplicate_threshold: float = Field(
        default=0.7, gt=0, le=1, description="MinHash Jaccard similarity at which a snippet is a near duplicate (1 turns it off)."
    )
    minhash_permutations: int = Field(default=128, ge=16, le=1024, description="MinHash permutations (accuracy vs speed).")
    decontaminate_humaneval: bool = Field(default=True, description="Drop snippets sharing an n-gram with HumanEval.")
    decontaminate_mceval: bool = Field(
        default=True, description="Drop snippets sharing a 10-gram with McEval (bundled as hashed n-grams).")
    decontamination_sets: Annotated[list[Path], RELATIVE] = Field(
        default_factory=list,
        description="More benchmark JSONL files (MBPP, McEval, ...); every string field counts as benchmark text.",
    )
    decontamination_ngram: int = Field(default=10, ge=3, description="Word n-gram length of the overlap test.")
    paraphrase_threshold: float = Field(
        default=0.75, gt=0, le=1,
        description="A generated or given instruction this similar (cosine of the memory banks' embeddings) to a task "
        "of the benchmarks above (HumanEval's docstrings, McEval's evaluation split, the sets' instruction, prompt or "
        "text) paraphrases it: the pair is contaminated (1 turns the check off). At 0.75, precision 0.97 and recall "
        "0.66 on bench/paraphrase_check.py's labelled set; lower values catch more rewordings and more common tasks.",
    )
    downsample: dict[str, float] = Field(
        default_factory=dict,
        description="Language -> share of its snippets to keep (0-1], for long-tail languages; chosen by content hash.",
    )
    secrets: Literal["redact", "drop", "keep"] = Field(
        default="redact",
        description="Snippets holding a secret (an API key or token of a known service, a private key, a password in "
        "a URL or a config string; detect-secrets): 'redact' puts a typed placeholder where it was "
        "(<SECRET:aws_access_key>), 'drop' drops the snippet, 'keep' does not look.",
    )
    personal_data: Literal["redact", "drop", "keep"] = Field(
        default="redact",
        description="Snippets holding personal data (e-mail addresses, globally routable IP addresses): 'redact' "
        "(<PII:email>, <PII:ip_address>), 'drop' or 'keep', as for secrets.",
    )

    @model_validator(mode="after")
    def _shares_in_range(self) -> "IngestConfig":
        bad = {name: share for name, share in self.downsample.items() if not 0 < share <= 1}
        if bad:
            raise ValueError(f"downsample shares must be in (0, 1], found {bad}")
        return self

    @model_validator(mode="after")
    def _mceval_ngrams_are_10_grams(self) -> "IngestConfig":
        if self.decontaminate_mceval and self.decontamination_ngram != 10:
            raise ValueError(f"decontaminate_mceval uses bundled 10-grams, but decontamination_ngram is "
                             f"{self.decontamination_ngram}: set it to 10, or decontaminate_mceval to false")
        return self


class MemoryConfig(_Strict):
    """Each language agent's memory bank: few-shot examples and a novelty check (FAISS)."""

    enabled: bool = Field(default=True, description="Keep memory banks (off: no few-shot examples, no novelty check).")
    folder: Annotated[Path | None, RELATIVE] = Field(
        default=None, description="Where banks are saved (default: OUTPUT_DIR/memory); share it across campaigns."
    )
    seeds: Annotated[str, NAME_OR_PATH] = Field(default="starter", description="Few-shot seeds: 'starter' (bundled) or a JSONL/Parquet/HF path.")
    few_shot: int = Field(default=2, ge=0, description="Examples (seeds and accepted pairs) shown to the instructor.")
    novelty_threshold: float = Field(
        default=0.9, gt=0, le=1.0,
        description="An instruction this similar (cosine) to one already in the bank is rejected before answering.",
    )
    ivf_threshold: int = Field(default=50_000, ge=100, description="Bank size at which the flat index becomes IVF.")


GenerationMode = Literal["snippet", "answer_first", "evolve"]


class DiscussionConfig(_Strict):
    """Cross-lingual discussion: agents of other languages critique a drafted instruction, the proposer
    revises it, and each peer carries the result over into its own language as a new pair."""

    share: float = Field(default=0.0, ge=0, le=1, description="Share of work items discussed (0: none, 1: all).")
    rounds: int = Field(default=1, ge=1, le=5, description="Critique-and-revise rounds per discussion.")
    peers: int = Field(default=2, ge=1, le=8, description="Agents of other languages in each discussion.")
    peer_languages: list[str] | None = Field(
        default=None,
        description="Languages peers are drawn from (default: the campaign's languages). A language listed here "
        "that has no snippets still gets pairs, by transfer.",
    )
    transfer: bool = Field(
        default=True,
        description="After the last round each peer writes the task in its own language; that task is answered, "
        "tested and judged as a pair of the peer's language (it counts toward budgets.max_pairs).",
    )

    @model_validator(mode="after")
    def _known_peer_languages(self) -> "DiscussionConfig":
        """Peer languages by their canonical names (sorted, once each); an unknown name is an error."""
        if self.peer_languages is None:
            return self
        unknown = [name for name in self.peer_languages if language_by_name(name) is None]
        if unknown:
            raise ValueError(f"unknown language(s) {unknown}; use the names `polyforge identify` prints, "
                             "e.g. Python, C++, JavaScript")
        self.peer_languages = sorted({language_by_name(name).name for name in self.peer_languages})
        return self


class GatesConfig(_Strict):
    """Cheap checks that drop an item or an answer before answer, test and judge tokens are spent on it.
    A dropped item is stored as rejected with the reason (`gate: ...`); a dropped answer among several
    candidates is not judged, and still serves as the rejected side of a DPO preference."""

    restated_snippet: bool = Field(default=True, description="Drop an instruction that restates the snippet's code.")
    refusal: bool = Field(default=True, description="Drop an empty answer, or one that declines the task.")
    code_block: bool = Field(
        default=True, description="Drop an answer without a code block in its language that parses (tree-sitter)."
    )
    secrets: bool = Field(
        default=True, description="Drop an instruction, and screen out an answer, that holds a secret or personal "
        "data (found as ingest finds them); the stored text holds typed placeholders instead.",
    )
    failed_tests: bool = Field(
        default=True, description="Reject without a judge call an item whose every candidate failed its tests (with "
        "judge.accept_only_tested, also one whose code did not compile or run), and do not judge the candidates that "
        "did not pass where another did.",
    )


class GenerationConfig(_Strict):
    """How instructions are made, as a weighted mix of the report's modes, and how many are discussed."""

    modes: dict[GenerationMode, float] = Field(
        default_factory=lambda: {"snippet": 1.0},
        description="Mode -> share: 'snippet' (a task the snippet solves), 'answer_first' (explain the code, "
        "then write the task it answers), 'evolve' (a harder variant of the nearest seed or accepted task).",
    )
    discussion: DiscussionConfig = Field(default_factory=DiscussionConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)

    @model_validator(mode="after")
    def _usable_mix(self) -> "GenerationConfig":
        if any(share < 0 for share in self.modes.values()) or sum(self.modes.values()) <= 0:
            raise ValueError(f"mode shares must be non-negative with a positive total, got {self.modes}")
        return self


class PromptsConfig(_Strict):
    """Which prompt templates the agents render."""

    folder: Annotated[Path | None, RELATIVE] = Field(
        default=None,
        description="A folder of .j2 templates that override the bundled ones (polyforge/prompts/) of the same "
        "name. `polyforge prompts list --folder DIR` shows which file wins.",
    )


class CoverageConfig(_Strict):
    """The coverage matrix: language x topic x difficulty."""

    taxonomy: Annotated[str, NAME_OR_PATH] = Field(default="taxonomy", description="'taxonomy' (bundled) or a YAML file of topics and difficulties.")
    classify: bool = Field(default=True, description="Label every novel instruction with a topic and a difficulty.")
    steer: bool = Field(default=True, description="Ask each instructor for its language's least covered cell.")


class ExecutionConfig(_Strict):
    """Generated unit tests run in the sandbox: the verdict is stored with the pair, shown to the judge,
    and a passing candidate beats a failing one (also in DPO preferences)."""

    enabled: bool = Field(default=True, description="Write tests for each answer and run the candidates in the sandbox.")
    cpu_seconds: int = Field(default=10, ge=1, description="CPU seconds one sandbox step (compile or run) may use.")
    wall_seconds: float = Field(default=20.0, gt=0, description="Wall-clock seconds one sandbox step may take.")
    memory_mb: int = Field(default=512, ge=16, description="Memory of all of a run's processes together, in MB.")
    workers: int | None = Field(default=None, ge=1, description="Sandbox runs in parallel (default: one per core).")
    repeats: int = Field(default=1, ge=1, le=10, description="Runs per candidate; more than 1 detects flaky results.")
    cache: bool = Field(default=True, description="Reuse results of identical runs (OUTPUT_DIR/sandbox-cache.db).")
    compile_cache_mb: int = Field(
        default=512, ge=0, description="Room for compiled programs of identical sources, reused instead of compiling "
        "again (~/.cache/polyforge/sandbox/compiled, shared by campaigns; 0: always compile).")


class WorkersConfig(_Strict):
    """Where work items run: in the campaign's own process, or on a Ray cluster with one worker per language."""

    executor: Literal["local", "ray"] = Field(
        default="local", description="local: in this process; ray: a Ray actor per language, placed by Ray.")
    ray_address: str | None = Field(
        default=None, description="The Ray cluster to join (e.g. auto, or ray://head:10001); default: a Ray "
        "started on this machine for the run.")
    cpus_per_language: float = Field(
        default=1.0, gt=0, description="CPUs Ray reserves for each language's worker (its sandbox runs included).")


class LoraConfig(_Strict):
    """A LoRA adapter (peft): which layers get one and how large it is."""

    rank: int = Field(default=16, ge=1, description="Rank r of each adapter's low-rank matrices.")
    alpha: int = Field(default=32, ge=1, description="Scale: the update is multiplied by alpha / rank.")
    dropout: float = Field(default=0.05, ge=0, lt=1, description="Dropout on the adapter's input.")
    target_modules: str | list[str] = Field(
        default="all-linear",
        description="Module names that get an adapter, e.g. [q_proj, v_proj], or 'all-linear' (every linear layer "
        "but the output head).",
    )


FimLevel = Literal["expression", "statement", "block", "function_body"]


class FimConfig(_Strict):
    """Fill-in-the-middle samples mixed into SFT (the report's mixed tuning): a span of an answer's code is cut out
    and the model learns to fill it from the code before and after it."""

    share: float = Field(
        default=0.0, ge=0, lt=1,
        description="Share of the SFT examples that are FIM samples, made from the same answers' code (0: none).",
    )
    mode: Literal["ast", "line"] = Field(
        default="ast",
        description="'ast': the middle is one tree-sitter node of a chosen level; 'line': a run of whole lines.",
    )
    levels: list[FimLevel] = Field(
        default=["expression", "statement", "block", "function_body"], min_length=1,
        description="AST levels a middle is drawn from, each equally likely (ast mode).",
    )
    spm_rate: float = Field(
        default=0.5, ge=0, le=1,
        description="Share of FIM samples in suffix-prefix-middle order; the others are prefix-suffix-middle.",
    )


class StageEvaluationConfig(_Strict):
    """pass@1 of the base model and of each stage's model, run in the sandbox after training."""

    benchmark: str | None = Field(
        default=None, description="'humaneval' (bundled, Python), 'mceval' (the bundled McEval, many languages) or a "
        "McEval data folder; None: no evaluation after training.")
    languages: list[str] = Field(default=[], description="Only these languages of the benchmark (default: all).")
    limit: int | None = Field(default=20, ge=1, description="Tasks per language.")
    max_new_tokens: int = Field(
        default=512, ge=16,
        description="Tokens each reply may take (a chat model explains before its code: too few cut the code off).")
    split: Literal["evaluation", "instructions", "all"] = Field(
        default="evaluation",
        description="McEval's tasks to evaluate on: 'evaluation' (held out: task numbers 0, 2 and 4 modulo 5), "
        "'instructions' (those campaigns may draw on) or 'all'. HumanEval has no split.")
    prompting: Literal["auto", "chat", "completion"] = Field(
        default="auto",
        description="'chat': the task in words through the model's chat template, the reply's code block runs; "
        "'completion': the model continues the code prompt; 'auto': chat when the tokenizer has a template.")


class TrainingConfig(_Strict):
    """Training on a campaign's pairs (`polyforge demo` and `polyforge train`): [coarse SFT,] SFT, then DPO.

    These are the only defaults: every field maps onto a field of TRL's `SFTConfig` / `DPOConfig` (or of peft's
    `LoraConfig`), built in `polyforge/training/common.py`.
    """

    enabled: bool = Field(default=True, description="Train after `polyforge demo` (off: the demo stops at the export).")
    base_model: Annotated[str, NAME_OR_PATH] = Field(
        default="embedded",
        description="'embedded' (the bundled SmolLM2), a known embedded model's name (e.g. qwen2.5-coder-0.5b), each "
        "converted once from GGUF, or a transformers model folder.",
    )
    max_steps: int = Field(default=4, ge=1, description="SFT optimizer steps (the fine stage, on accepted pairs).")
    coarse_steps: int = Field(
        default=0, ge=0,
        description="Coarse SFT steps on every answered pair, whatever its verdict, before the fine stage starts "
        "from that model (the report's coarse-to-fine); 0: one stage.",
    )
    batch_size: int = Field(default=2, ge=1, description="Examples per device per step (per_device_train_batch_size).")
    gradient_accumulation_steps: int = Field(
        default=1, ge=1, description="Steps whose gradients add up before one optimizer step.")
    max_length: int = Field(default=384, ge=32, description="Tokens per example.")
    learning_rate: float = Field(default=2e-5, gt=0, description="SFT peak learning rate.")
    dpo_steps: int = Field(default=2, ge=0, description="DPO steps on the SFT model (0: no DPO); needs preferences.")
    dpo_beta: float = Field(default=0.1, gt=0, description="DPO's beta: how far the model may move from the SFT model.")
    dpo_learning_rate: float = Field(default=5e-7, gt=0, description="DPO peak learning rate.")
    mix: dict[str, float] = Field(
        default={},
        description="Shares of the SFT stages' examples per language (or per source repository, with mix_by), "
        "e.g. {Python: 0.6, Go: 0.4}, as the export's --mix takes them: as large as the scarcest key allows.",
    )
    mix_by: Literal["language", "source"] = Field(default="language", description="What the mix's keys name.")
    completion_only_loss: bool = Field(
        default=True, description="SFT loss on the answer's tokens only, not on the instruction's (the prompt).")
    packing: bool = Field(
        default=False, description="Pack several SFT examples into each max_length sequence (TRL's packing).")
    gradient_checkpointing: bool = Field(
        default=False, description="Recompute activations in the backward pass: less memory, about 30% slower.")
    bf16: bool | Literal["auto"] = Field(
        default="auto", description="bfloat16 mixed precision; 'auto': when the GPU supports it (never on CPU).")
    save_steps: int = Field(
        default=0, ge=0,
        description="Write a checkpoint every N optimizer steps, which `polyforge train --resume` continues from "
        "(0: none, only the final model).",
    )
    save_total_limit: int = Field(default=2, ge=1, description="Checkpoints kept per stage; older ones are deleted.")
    logging_steps: int = Field(default=1, ge=1, description="Optimizer steps between two progress lines.")
    report_to: list[str] | Literal["auto"] = Field(
        default="auto",
        description="Trackers the trainers log to (TRL's report_to): e.g. [tensorboard, wandb, mlflow], [] for none; "
        "'auto': tensorboard when installed, plus W&B or MLflow when their environment variables are set.",
    )
    deepspeed: Annotated[str | None, NAME_OR_PATH] = Field(
        default=None,
        description="DeepSpeed config: 'zero2', 'zero3', 'zero3-offload' (shipped, 'auto' values filled in from "
        "these settings) or a JSON file; needs a GPU and a launch through accelerate.",
    )
    adapter: Literal["none", "lora", "qlora"] = Field(
        default="none",
        description="'none': train every weight; 'lora': LoRA adapters (peft); 'qlora': LoRA on a 4-bit base "
        "model (bitsandbytes, GPU only).",
    )
    lora: LoraConfig = Field(default_factory=LoraConfig, description="The adapters' shape (lora and qlora).")
    save_adapter_only: bool = Field(
        default=False,
        description="With an adapter, save only the adapter (peft's folder, loads with PeftModel) instead of the "
        "base model with the adapter merged in; the next stage starts from base plus adapter either way.",
    )
    fim: FimConfig = Field(default_factory=FimConfig, description="Fill-in-the-middle samples mixed into SFT.")
    repair_conversations: bool = Field(
        default=True,
        description="Add to SFT, for each accepted pair whose answer is a repair, the exchange that led to it: the "
        "task, the broken answer, the sandbox's output, the fix (sampling.repair_turns).")
    held_out_benchmarks: list[str] = Field(
        default=["humaneval", "mceval"],
        description="Benchmarks whose evaluation tasks no training row may share a word 10-gram with ('humaneval', "
        "'mceval' or a McEval data folder); such rows are dropped before training and counted in the run summary. "
        "[]: no check.")
    include_unaccepted: bool = Field(
        default=False,
        description="Train the SFT stage on every judged pair, accepted or not (flagged and rejected included). "
        "Off: accepted pairs only, and too few of them stop training with a message. For smoke runs of the "
        "training path on a campaign whose models accept little; never for a model you mean to use.",
    )
    min_accepted_pairs: int = Field(
        default=4, ge=1,
        description="Fewest accepted pairs SFT trains on; a campaign with fewer stops training (unless "
        "include_unaccepted).",
    )
    evaluation: StageEvaluationConfig = Field(
        default_factory=StageEvaluationConfig, description="pass@1 of the base model and each stage's model.")

    @model_validator(mode="after")
    def _zero3_saves_adapters_alone(self) -> "TrainingConfig":
        # Under ZeRO-3 every rank holds a shard of each weight: rank 0 alone cannot merge an adapter into them.
        if self.deepspeed in ("zero3", "zero3-offload") and self.adapter != "none" and not self.save_adapter_only:
            raise ValueError(f"deepspeed {self.deepspeed!r} with adapter {self.adapter!r} needs save_adapter_only: "
                             "true (the merged model cannot be written from sharded weights); merge afterwards "
                             "with peft's merge_and_unload")
        return self


class CampaignConfig(_Strict):
    """A generation campaign: where code comes from, which models, how much, and what passes."""

    name: str = Field(
        default="campaign", min_length=1,
        description="The campaign's name: a run of a config resumes the newest campaign of this name in its database.")
    output_dir: Annotated[Path, RELATIVE] = Field(default=Path("runs/campaign"),
                                                  description="Database, exports and models go here.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (default: SQLite in output_dir).",
    )
    sources: list[SourceConfig] = Field(min_length=1)
    languages: list[str] | None = Field(default=None, description="Only these languages (default: all found).")
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    budgets: BudgetConfig = Field(default_factory=BudgetConfig)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    coverage: CoverageConfig = Field(default_factory=CoverageConfig)
    prompts: PromptsConfig = Field(default_factory=PromptsConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    concurrency: int | Literal["auto"] = Field(
        default="auto",
        description="Work items in flight at once. auto: twice the requests the generator's servers take at once "
        "(max_concurrency for each base_url), so each request slot has an item ready while others are between "
        f"calls; {AUTO_ITEMS_IN_PROCESS} for an in-process model (embedded, vllm).",
    )
    workers: WorkersConfig = Field(default_factory=WorkersConfig)

    @field_validator("concurrency", mode="before")
    @classmethod
    def _count_or_auto(cls, value):
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return value
        raise ValueError("expected an integer of at least 1, or auto")

    @property
    def items_in_flight(self) -> int:
        """`concurrency`, with auto resolved against the generator's servers."""
        if self.concurrency != "auto":
            return self.concurrency
        generator = self.models.generator
        if generator.backend != "openai":
            return AUTO_ITEMS_IN_PROCESS
        servers = generator.base_url if isinstance(generator.base_url, list) else [generator.base_url]
        return 2 * generator.max_concurrency * len(servers)

    @model_validator(mode="after")
    def _known_languages(self) -> "CampaignConfig":
        unknown = [name for name in self.languages or () if language_by_name(name) is None]
        if unknown:
            raise ValueError(f"languages: unknown language(s) {unknown}; use the names `polyforge identify` "
                             "prints, e.g. Python, C++, JavaScript")
        return self

    @model_validator(mode="after")
    def _judge_rationales_by_backend(self) -> "CampaignConfig":
        if self.judge.rationales is None:
            self.judge.rationales = self.judge_model.backend == "openai"
        return self

    @model_validator(mode="after")
    def _accept_on_evidence_when_tests_run(self) -> "CampaignConfig":
        if self.judge.accept_only_tested is None:
            self.judge.accept_only_tested = self.execution.enabled
        elif self.judge.accept_only_tested and not self.execution.enabled:
            raise ValueError("judge.accept_only_tested is true but execution.enabled is false: no answer would run "
                             "its tests, so none could be accepted; turn execution on, or accept_only_tested off "
                             "(the judge's score alone then decides)")
        return self

    @model_validator(mode="after")
    def _until_pass_needs_tests(self) -> "CampaignConfig":
        if self.sampling.repair_turns and not self.execution.enabled:
            raise ValueError("sampling.repair_turns is above 0 but execution.enabled is false: a repair answers the "
                             "sandbox's output; turn execution on, or repair_turns to 0")
        if self.sampling.candidates_until_pass and not self.execution.enabled:
            raise ValueError("sampling.candidates_until_pass is on but execution.enabled is false: no candidate could "
                             "pass its tests; turn execution on, or candidates_until_pass off")
        return self

    @model_validator(mode="after")
    def _judge_samples_can_differ(self) -> "CampaignConfig":
        if self.judge.samples > 1 and self.sampling.judge.temperature == 0:
            raise ValueError(
                f"judge.samples is {self.judge.samples} but sampling.judge.temperature is 0: the samples would be "
                "identical; set sampling.judge.temperature above 0 (e.g. 0.7) or judge.samples to 1"
            )
        return self

    @property
    def judge_model(self) -> ModelConfig:
        return self.models.judge or self.models.generator


def format_validation_error(error: ValidationError, origin: str) -> str:
    """One line per problem: the dotted key, what is wrong, and what was found."""
    lines = [f"{origin}: invalid campaign config ({error.error_count()} problem(s))"]
    for item in error.errors():
        # "" is no key: it tags a union's default member (a source's instructions fields)
        key = ".".join(str(part) for part in item["loc"] if part != "") or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see polyforge/config.py for the fields)"
        found = item.get("input")
        shown = "" if item["type"] in ("missing", "extra_forbidden") or isinstance(found, dict) else f" (found {found!r})"
        lines.append(f"  - {key}: {message}{shown}")
    return "\n".join(lines)


def load_config(path: str | Path, overrides: dict | None = None) -> CampaignConfig:
    """Read and validate a campaign YAML file; its relative paths resolve against its folder. `overrides` (top-level
    keys, from the command line) replace the file's values; their paths are relative to the working directory."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: " + ("a folder, not a config file" if path.is_dir() else "config file not found"))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, found {type(raw).__name__}")
    try:
        config = CampaignConfig.model_validate({**raw, **(overrides or {})})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path))) from exc
    resolve_paths(config, path.resolve().parent, skip=frozenset(overrides or ()))
    return config


def _resolved(value: Path, base: Path) -> Path:
    return value if value.is_absolute() else (base / value).resolve()


def resolve_paths(model: BaseModel, base: Path, skip: frozenset[str] = frozenset()) -> None:
    """Make every path of the config absolute against `base`, the config file's folder (in place).

    A name-or-path value (a checklist, seeds, taxonomy, model) becomes a path only when a file or folder
    of that name is there; otherwise it stays a bundled name (or a path the reader resolves). Fields named in
    `skip` are left as they are.
    """
    for name, info in type(model).model_fields.items():
        if name in skip:
            continue
        value = getattr(model, name)
        if RELATIVE in info.metadata and value is not None:
            setattr(model, name, [_resolved(v, base) for v in value] if isinstance(value, list) else _resolved(value, base))
        elif NAME_OR_PATH in info.metadata and isinstance(value, str) and (base / value).exists():
            setattr(model, name, str(_resolved(Path(value), base)))
        elif isinstance(value, BaseModel):
            resolve_paths(value, base)
        elif isinstance(value, list):
            for element in value:
                if isinstance(element, BaseModel):
                    resolve_paths(element, base)
        elif isinstance(value, dict):
            for element in value.values():
                if isinstance(element, BaseModel):
                    resolve_paths(element, base)
