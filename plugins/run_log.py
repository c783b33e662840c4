"""Quiet console, full log file: the screen shows what a person acts on, the file keeps every library message.

Our entry points call ``log_libraries_to(path)`` first. LLaMA-Factory, transformers, peft, accelerate and datasets
then log INFO and above into ``path`` (model/processor dumps, argument dumps, Python warnings such as DataLoader's
``pin_memory`` notice, deprecation notices), and only other warnings and errors reach the console, beside our own
lines (the preflight verdict, the trainer's progress bar and loss, where outputs went). A user who sets
LLAMAFACTORY_VERBOSITY gets LLaMA-Factory's own console output, untouched.
"""

import logging
import os
from pathlib import Path

LIBRARIES = ("llamafactory", "transformers", "peft", "accelerate", "datasets", "DeepSpeed", "py.warnings", "evaluation")
CONSOLE_LEVEL = logging.WARNING
FILE_LEVEL = logging.INFO
LOG_FILE_ENV = "QWEN_VIDEO_TRAIN_LOG"  # set by the launcher, so that its torchrun workers append to the same file
LOG_FORMAT = "[%(levelname)s|%(asctime)s|pid %(process)d] %(name)s:%(lineno)s >> %(message)s"


def _actionable(record: logging.LogRecord) -> bool:
    """Console filter: deprecation notices concern the libraries' authors, not the person running training."""
    return "deprecat" not in record.getMessage().lower()


def log_libraries_to(path: Path) -> Path | None:
    """Send library logs at INFO+ to ``path`` (appended) and keep the console at WARNING+. Returns the path, or
    None when the user chose LLaMA-Factory's verbosity themselves."""
    path = Path(path)
    if os.environ.get("LLAMAFACTORY_VERBOSITY") and LOG_FILE_ENV not in os.environ:
        return None  # the user's own choice (when we set it, e.g. in a torchrun worker's launcher, we say so)
    # LLaMA-Factory reads this when it sets up its logger, and then leaves transformers' console at WARNING too;
    # torchrun's worker processes inherit both.
    os.environ["LLAMAFACTORY_VERBOSITY"] = "WARNING"
    os.environ[LOG_FILE_ENV] = str(path)
    from llamafactory.extras import logging as llamafactory_logging
    from transformers.utils import logging as transformers_logging

    llamafactory_logging.get_logger()  # both install their console handlers on first use: install them now
    transformers_logging.get_logger()
    path.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setLevel(FILE_LEVEL)
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    logging.captureWarnings(True)
    for name in LIBRARIES:
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            handler.setLevel(CONSOLE_LEVEL)
            handler.addFilter(_actionable)
        logger.setLevel(FILE_LEVEL)
        logger.addHandler(file_handler)
        if name == "py.warnings":
            logger.propagate = False  # warnings go to the file only
    return path
