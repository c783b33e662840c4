"""PTB tokenization for the coco-caption metrics: pycocoevalcap's Stanford PTBTokenizer, one caption per line, checked.

    from evaluation.ptb_tokenizer import ptb_tokenize
    ptb_tokenize({"s1": ["The cat sat.", "A cat."]})   # {"s1": ["the cat sat", "a cat"]} (java must be on PATH)

pycocoevalcap 1.2 writes every caption as one line of a file, runs Java's PTBTokenizer with ``-preserveLines`` and
pairs the lines it reads back with the captions by position, silently (``zip``). Java ends a line at CR, VT, FF,
NEL (U+0085), U+2028 and U+2029 as well as at LF, so one such character splits a caption in two and pairs every
later caption with its neighbour's tokens: all scores are wrong and nothing fails. Here each caption is first made
single-line, and the number of lines that come back must equal the number sent. The same jar, flags and
punctuation list as pycocoevalcap's own ``PTBTokenizer.tokenize``; the input file goes to the system temp
directory, not into pycocoevalcap's package directory, so a read-only install works.
"""

import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

logger = logging.getLogger(__name__)

# Python's \s covers every Unicode whitespace, the line breaks above and the C0 separators U+001C-U+001F among them;
# the other C0/C1 controls are not text either (Java logs "Untokenizable" for them).
_NOT_ONE_LINE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


class TokenizerError(RuntimeError):
    """Java's tokenizer failed, or gave back another number of lines than captions it was given."""


def single_line(text: str) -> str:
    """``text`` with every run of line breaks, whitespace and control characters replaced by one space, stripped."""
    return _NOT_ONE_LINE.sub(" ", text).strip()


def read_tokenized_lines(output: str, expected: int) -> list[str]:
    """The tokenizer's output as one line per caption; raises TokenizerError when the count differs."""
    lines = output.split("\n")
    if len(lines) != expected:
        raise TokenizerError(
            f"the PTB tokenizer returned {len(lines)} lines for {expected} captions, so its lines cannot be paired "
            "with the captions; no score was written. Report this caption set: a character in it splits lines."
        )
    return lines


def ptb_tokenize(captions: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Sample id -> its captions PTB-tokenized (lower-cased, punctuation tokens removed), in the same order."""
    from pycocoevalcap.tokenizer import ptbtokenizer

    keys = [key for key, caps in captions.items() for _ in caps]
    sentences = [single_line(caption) for caps in captions.values() for caption in caps]
    package_dir = Path(ptbtokenizer.__file__).resolve().parent
    with tempfile.TemporaryDirectory(prefix="ptb_tokenize_") as tmp:
        path = Path(tmp) / "captions.txt"
        path.write_bytes("\n".join(sentences).encode())
        run = subprocess.run(
            ["java", "-cp", ptbtokenizer.STANFORD_CORENLP_3_4_1_JAR, "edu.stanford.nlp.process.PTBTokenizer",
             "-preserveLines", "-lowerCase", os.fspath(path)],
            cwd=package_dir, capture_output=True, check=False,
        )  # fmt: skip
    for line in run.stderr.decode(errors="replace").splitlines():  # its per-call notes: the log, not the console
        logger.info("PTB tokenizer: %s", line)
    if run.returncode != 0:
        last = run.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise TokenizerError(f"Java's PTB tokenizer (pycocoevalcap) exited with {run.returncode}: {last[0]}")
    output = run.stdout.decode()
    tokenized: dict[str, list[str]] = {key: [] for key in captions}
    for key, line in zip(keys, read_tokenized_lines(output, len(sentences)), strict=True):
        tokenized[key].append(" ".join(w for w in line.rstrip().split(" ") if w not in ptbtokenizer.PUNCTUATIONS))
    return tokenized
