"""The derived-work backlog: browser copies and thumbnails of registered media, in order.

Runs on its own thread at the lowest CPU priority (ffmpeg inherits it), one medium at a
time, and starts no new step while a dock is copying (disk schedulers here ignore I/O
priorities, and a remux writes as much as it reads), so it never holds up a dock's copying or
the upload and registration of originals.
Its state is the journal's `derived` table: a restart carries on where it stopped.
Important and in-case media go first, then the newest (Journal.derived_due).

A try that fails because ffmpeg did (or overran, or anything unforeseen) is tried again with
back-off, and after MAX_PROXY_ATTEMPTS the medium is `failed` with the reason; a result that
does not play is final at once; a store or api that cannot be reached is retried without
limit, with back-off.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ingest.errors import FfmpegTimeout, TranscodeError
from station.api_client import ApiError
from station.facts import DerivedStage
from station.journal import DerivedJob, JournalRow
from station.pipeline import MAX_PROXY_ATTEMPTS, Pipeline, ProxyFailed, give_up, next_derived_step
from storage.errors import StorageError

log = logging.getLogger(__name__)

IDLE_S = 2.0
"""How often an idle backlog looks for work (new registrations wake it at once)."""
NICE = 19
YIELD_S = 0.5
"""How often a backlog that gave way to a copying dock looks again."""
WAIT_S = 30.0
"""How long derived work waits for an unreachable store or api before it tries again."""


@dataclass(frozen=True)
class DerivedOutcome:
    row: JournalRow
    job: DerivedJob
    error: Exception | None = None

    @property
    def finished(self) -> bool:
        """Done and the api knows (ready, failed or none)."""
        return self.job.stage is DerivedStage.DONE and self.job.facts.attached


class Backlog:
    """Works through the journal's derived backlog; `on_finished` hears of each medium whose
    derived work is done and attached (the agent assembles its device's recordings then)."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        on_finished: Callable[[JournalRow], None] | None = None,
        yield_to: Callable[[], bool] | None = None,
    ) -> None:
        self._p = pipeline
        self._on_finished = on_finished
        self._yield_to = yield_to
        self._wake = threading.Event()
        self._one_at_a_time = threading.Lock()

    def wake(self) -> None:
        """New work is in the journal (a registration)."""
        self._wake.set()

    def due(self, *, among: Iterable[int] | None = None) -> list[DerivedJob]:
        """The work that is due now (of the rows `among`, when given), in the order it will
        be done."""
        return self._p.journal.derived_due(among=among)

    def run(self, stop: threading.Event) -> None:
        """The backlog thread: work until `stop` is set, at the lowest priority."""
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        while not stop.is_set():
            if self._yield_to is not None and self._yield_to():
                stop.wait(YIELD_S)  # a dock is copying: its disk is the officer's, not ours
                continue
            self._wake.clear()
            try:
                did = self.run_due(stop=stop)
            except Exception:  # derived work must never end the agent
                log.exception("backlog round failed; trying again")
                did = []
            if not did:
                self._wake.wait(IDLE_S)

    def run_due(
        self,
        *,
        among: Iterable[int] | None = None,
        stop: threading.Event | None = None,
        on_step: Callable[[DerivedOutcome], None] | None = None,
    ) -> list[DerivedOutcome]:
        """Do every step that is due now (of the rows `among`, when given), best first;
        returns each medium's outcome. Failures are journalled, never raised."""
        outcomes: list[DerivedOutcome] = []
        ids = None if among is None else list(among)
        with self._one_at_a_time:
            while not (stop is not None and stop.is_set()):
                due = self._p.journal.derived_due(among=ids)
                if not due:
                    break
                if self._yield_to is not None and self._yield_to() and ids is None:
                    break  # the agent's loop: back to waiting while a dock copies
                outcome = self._step(due[0], stop)
                outcomes.append(outcome)
                if on_step is not None:
                    on_step(outcome)
                if outcome.error is not None and ids is not None:
                    ids = [i for i in ids if i != outcome.job.file_id]  # retried later, not now
                    if not ids:
                        break
        return outcomes

    def _refused(self, row: JournalRow, job: DerivedJob, exc: ApiError) -> DerivedJob:
        """The api refused what was attached (an object it does not find, say): made and
        uploaded again from the start; after MAX_PROXY_ATTEMPTS refusals left as it is, for
        IT to look at (the original is registered; the api shows the browser copy pending)."""
        if job.attempts + 1 >= MAX_PROXY_ATTEMPTS:
            log.error("%s: the api keeps refusing its browser copies: %s", row.path, exc)
            return self._p.journal.derived_abandon(row.id, f"refused by the api: {exc}")
        log.warning("%s: the api refused its browser copies, making them again: %s", row.path, exc)
        return self._p.journal.derived_redo(row.id, f"refused by the api: {exc}")

    def _step(self, job: DerivedJob, stop: threading.Event | None) -> DerivedOutcome:
        row = self._p.journal.get(job.file_id)
        step = next_derived_step(job)
        if step is None:
            return DerivedOutcome(row, job)
        try:
            job = step(self._p, row, job)
        except ProxyFailed as exc:
            log.warning("%s: browser copy failed: %s", row.path, exc)
            job = give_up(self._p, row, job, str(exc))
        except ApiError as exc:
            if exc.retryable:
                log.warning("%s: derived work waits for the api (%s)", row.path, exc)
                return DerivedOutcome(row, self._p.journal.derived_wait(row.id, WAIT_S), exc)
            return DerivedOutcome(row, self._refused(row, job, exc), exc)
        except (StorageError, OSError) as exc:
            log.warning("%s: derived work waits for the store (%s)", row.path, exc)
            return DerivedOutcome(row, self._p.journal.derived_wait(row.id, WAIT_S), exc)
        except Exception as exc:  # ffmpeg failed, or a fault nobody foresaw: tried again
            if stop is not None and stop.is_set():  # killed at shutdown: not the file's fault
                return DerivedOutcome(row, job, exc)
            if not isinstance(exc, TranscodeError | FfmpegTimeout):
                log.exception("%s: derived work failed unexpectedly", row.path)
            if job.attempts + 1 >= MAX_PROXY_ATTEMPTS:
                log.warning("%s: browser copy failed %d times: %s", row.path, job.attempts + 1, exc)
                job = give_up(self._p, row, job, str(exc))
            else:
                log.warning("%s: browser copy failed, will retry: %s", row.path, exc)
                failed = self._p.journal.derived_fail(
                    row.id,
                    dataclasses.replace(job.facts, error=f"attempt {job.attempts + 1}: {exc}"),
                )
                return DerivedOutcome(row, failed, exc)
        outcome = DerivedOutcome(row, job)
        if outcome.finished and self._on_finished is not None:
            try:
                self._on_finished(row)
            except Exception:
                log.exception("after the derived work of %s", row.path)
        return outcome
