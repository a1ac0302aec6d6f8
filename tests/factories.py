"""Rows for storage-level tests: snippets and pairs with every required column filled."""

from polyforge.storage import Campaign, Pair, Snippet


def snippet(campaign, index: int, language: str = "Python") -> Snippet:
    return Snippet(campaign=campaign, language=language, path=f"m{index}.py", source="/repo", start_line=1, end_line=3,
                   kind="function_definition", code=f"def f{index}():\n    return {index}\n", tokens=8,
                   content_hash=f"h{index}")


def pair(campaign, snippet_row, language: str, status: str, instruction: str = "i", **extra) -> Pair:
    values = dict(campaign=campaign, snippet=snippet_row, language=language, instruction=instruction,
                  answer=f"```\n{instruction} solved\n```", status=status, model="m", sampling={}, templates={},
                  tokens={})
    return Pair(**{**values, **extra})


def campaign_with_snippets(session, count: int) -> tuple[Campaign, list[Snippet]]:
    """A campaign with `count` Python snippets, flushed so that their ids are set."""
    campaign = Campaign(name="c", config={})
    snippets = [snippet(campaign, index) for index in range(count)]
    session.add_all([campaign, *snippets])
    session.flush()
    return campaign, snippets
