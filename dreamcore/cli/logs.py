"""The run log: what a cycle reported, in a file rotated at midnight (``[logging]`` in dreams.toml).

Everything dreamcore logs goes through the ``dreamcore`` logger; progress lines are logged too, so
the file holds what the terminal showed. An application embedding dreamcore keeps its own logging:
only ``dreamcore run`` attaches this file.
"""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Iterator
from contextlib import contextmanager

from dreamcore.config import Config
from dreamcore.errors import ConfigError, DreamcoreError

LOGGER = logging.getLogger("dreamcore")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def run_log(config: Config) -> Iterator[None]:
    """Log to the configured file for the duration of the block."""
    path = config.logging.resolved_path(config.base_dir)
    if path is None:
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.TimedRotatingFileHandler(
            path, when="midnight", backupCount=config.logging.keep_days, encoding="utf-8", utc=True
        )
    except OSError as exc:
        raise ConfigError(f"{config.source}: logging.path: cannot write {path}: {exc.strerror}") from None
    handler.setFormatter(logging.Formatter(FORMAT))
    previous_level = LOGGER.level
    LOGGER.setLevel(config.logging.level.upper())
    LOGGER.addHandler(handler)
    try:
        yield
    except DreamcoreError as exc:
        LOGGER.error("%s", exc)
        raise
    except BaseException:
        LOGGER.exception("run crashed")
        raise
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.setLevel(previous_level)
        handler.close()
