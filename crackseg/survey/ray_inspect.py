"""The survey's samples inspected on Ray: actors each hold one model; frames stay decoded on the driver.

Which frames are sampled depends on the track, so the driver decodes and samples
them as the local engine does, and sends each sampled frame to an actor pool
(``ray.util.ActorPool``, each actor one ``SampleInspector`` with its own model).
Results come back in sample order, so ``run_survey`` stitches, sections, writes and
resumes exactly as with the local engine. At most ``in_flight`` frames (default two
per worker) are on their way or waiting at a time: memory does not grow with the
video.

Ray is started through ``crackseg.pipeline.ray_engine.start_ray`` (a local Ray on
127.0.0.1 without dashboard or usage statistics, or the cluster at ``address``,
checked first so an unreachable one is one line), and imported only when this
engine starts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

import numpy as np

from crackseg.core.errors import CrackSegError
from crackseg.pipeline.ray_engine import start_ray
from crackseg.survey.sample_inspection import (
    FrameItem,
    InspectedItem,
    InspectionJob,
    SampleInspector,
    SampleOutcome,
    model_info,
)
from crackseg.survey.sampling import Sample

IN_FLIGHT_PER_WORKER = 2  # one frame working and one waiting per actor keeps every actor busy


class SurveyActor:
    """One Ray actor: one model (``make_segmenter()``), inspecting the frames it is sent."""

    def __init__(self, make_segmenter: Callable[[], Any]) -> None:
        self.segmenter = make_segmenter()
        self.inspector: SampleInspector | None = None

    def info(self) -> dict[str, Any]:
        """The model's identity, as the local engine records it."""
        return model_info(self.segmenter)

    def configure(self, job: InspectionJob) -> None:
        """Inspect what follows with ``job``'s profile and settings."""
        self.inspector = SampleInspector(self.segmenter, job)

    def inspect(self, sample: Sample, rgb: np.ndarray) -> SampleOutcome:
        if self.inspector is None:
            raise CrackSegError("SurveyActor.inspect before configure")
        return self.inspector(sample, rgb)


def in_order(
    frames: Iterable[FrameItem],
    submit: Callable[[Sample, np.ndarray], None],
    next_result: Callable[[], SampleOutcome],
    limit: int,
) -> Iterator[InspectedItem]:
    """Submit decoded frames, yield every item in the order it came, with at most ``limit`` frames submitted.

    ``next_result()`` returns the outcome of the oldest submitted frame not yet returned (``ActorPool.get_next``).
    A frame that was not decoded (``rgb`` None) is passed through in its place.
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    pending: deque[tuple[Sample, bool, str | None]] = deque()  # (sample, submitted, error)
    submitted = 0
    for sample, rgb, error in frames:
        if rgb is None:
            pending.append((sample, False, error))
        else:
            submit(sample, rgb)
            pending.append((sample, True, None))
            submitted += 1
        while pending and (not pending[0][1] or submitted >= limit):
            head, was_submitted, head_error = pending.popleft()
            if was_submitted:
                submitted -= 1
                yield head, next_result(), None
            else:
                yield head, None, head_error
    while pending:
        head, was_submitted, head_error = pending.popleft()
        yield head, (next_result() if was_submitted else None), head_error


class RaySurveyEngine:
    """Inspect the survey's samples on ``workers`` Ray actors; use as a context manager (it shuts Ray down)."""

    def __init__(
        self,
        make_segmenter: Callable[[], Any],
        *,
        address: str | None = None,
        workers: int = 2,
        in_flight: int | None = None,
    ) -> None:
        if workers < 1:
            raise CrackSegError(f"--workers must be >= 1, got {workers}")
        self.make_segmenter, self.address, self.workers = make_segmenter, address, workers
        self.in_flight = in_flight or IN_FLIGHT_PER_WORKER * workers
        self._ray: Any = None
        self._actors: list[Any] = []

    def __enter__(self) -> RaySurveyEngine:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start or join Ray and create the actors (each loads its model); once."""
        if self._ray is not None:
            return
        self._ray = start_ray(self.address, self.workers)
        actor_class = self._ray.remote(num_cpus=1)(SurveyActor)
        self._actors = [actor_class.remote(self.make_segmenter) for _ in range(self.workers)]

    def close(self) -> None:
        """Shut Ray down (a local Ray stops; a cluster is left running)."""
        if self._ray is not None:
            self._ray.shutdown()
            self._ray, self._actors = None, []

    def model_info(self) -> dict[str, Any]:
        """The actors' model (the first actor's; all load the same)."""
        self.start()
        return self._get(self._actors[0].info.remote(), "loading the model on Ray")

    def inspect(self, frames: Iterable[FrameItem], job: InspectionJob) -> Iterator[InspectedItem]:
        self.start()
        ray = self._ray
        self._get([actor.configure.remote(job) for actor in self._actors], "configuring the Ray actors")
        from ray.util import ActorPool  # Ray is imported only once this engine has started it

        pool = ActorPool(self._actors)

        def submit(sample: Sample, rgb: np.ndarray) -> None:
            pool.submit(lambda actor, item: actor.inspect.remote(*item), (sample, rgb))

        def next_result() -> SampleOutcome:
            try:
                return pool.get_next()
            except ray.exceptions.RayError as error:
                raise _one_line(error, "inspecting a frame on Ray") from None

        yield from in_order(frames, submit, next_result, self.in_flight)

    def _get(self, refs: Any, doing: str) -> Any:
        try:
            return self._ray.get(refs)
        except self._ray.exceptions.RayError as error:
            raise _one_line(error, doing) from None


def _one_line(error: BaseException, doing: str) -> CrackSegError:
    """A Ray failure as one line: the worker's own CrackSegError as it is, anything else named."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, CrackSegError):
        return cause
    reason = str(cause or error).strip().splitlines()
    return CrackSegError(f"{doing} failed: {reason[-1] if reason else type(error).__name__}")
