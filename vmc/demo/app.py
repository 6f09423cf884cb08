"""The demo's page and server: ``python -m vmc demo`` (Gradio, ``pip install -e ".[demo]"``).

Two tabs. **Person video**: photos of one person (or a shipped example of ``examples/``), a text
box (one prompt a line, performed in order), the options of ``infer.py`` that matter (seconds,
video size, framing, root motion, appearance, seed, device) and a Generate button; while it runs,
the stage (fit, texture, motion, frames, encoding) and the time left; then the video, the
side-by-side preview, the fitted body over the photo, the table of which implementation ran and
why, the seconds per stage, and the ``.mp4``, ``.npz`` and ``.bvh`` to download. **Motion
only**: text -> the motion on the body, ``.npz`` and ``.bvh``, with no photo.

The jobs run in :class:`vmc.demo.jobs.DemoRunner` (models loaded once, prepared people reused,
one job at a time per device); a bad input shows one message in the page
(:mod:`vmc.demo.errors`) and the server keeps serving. :func:`serve` keeps uploads and results
in one temporary folder (Gradio's too: ``GRADIO_TEMP_DIR``), listens on ``127.0.0.1`` unless
told otherwise, makes no public link unless asked (``share``), sends no analytics, and removes
the folder when it stops (Ctrl-C or SIGTERM).

Gradio is an optional dependency: it is imported inside the functions that build and serve the
page, so ``import vmc`` (and ``python -m vmc --help``) work without it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from vmc.demo.errors import internal_message, page_message
from vmc.demo.jobs import (
    MAX_PHOTOS,
    MAX_SECONDS,
    MAX_UPLOAD_MB,
    MEGABYTE,
    DemoRunner,
    VideoOptions,
)
from vmc.demo.progress import MOTION_STAGES, VIDEO_STAGES, JobProgress
from vmc.io.stages import APPEARANCE_KINDS
from vmc.pipeline.retarget import ROOT_MOTIONS
from vmc.pipeline.video import FRAMINGS
from vmc.utils.device import available_devices

if TYPE_CHECKING:
    import gradio

__all__ = ["EXAMPLES_DIR", "SIZES", "build_app", "serve"]

log = logging.getLogger(__name__)

#: The shipped example photos (a source checkout's ``examples/``).
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
#: Example photos and the prompt each comes with.
EXAMPLES = {
    "astronaut.jpg": "a person raises both arms",
    "person.jpg": "a person raises both arms",
    "person2.jpg": "a person squats",
}
#: The video sizes offered (long side, pixels).
SIZES = (128, 256, 384, 512, 768, 1024)
#: Widths of the columns of the stage table (stage, implementation, why).
STAGE_COLUMNS = ["16%", "42%", "42%"]
#: Seconds between two updates of a running job's progress bar.
POLL_SECONDS = 0.5
T = TypeVar("T")


def _run(job: Callable[[], T], progress: JobProgress, report: Callable[..., Any]) -> T:
    """Run ``job`` in a thread of its own and show its stage and time left until it is done."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = job()
        except BaseException as err:  # handed to the page's thread below
            box["error"] = err

    thread = threading.Thread(target=work, name="vmc-demo-job", daemon=True)
    thread.start()
    while thread.is_alive():
        fraction, line = progress.snapshot()
        report(fraction, desc=line)
        thread.join(POLL_SECONDS)
    if "error" in box:
        raise box["error"]
    return box["value"]


def _page_error(err: Exception, names: dict[str, str]) -> gradio.Error:
    # Gradio is optional: imported by the page's functions only.
    import gradio as gr

    message = page_message(err, names)
    if message is None:
        log.error("demo job failed", exc_info=err)
        message = internal_message(err)
    return gr.Error(message, print_exception=False)


def _seconds_line(seconds: dict[str, float], reused: bool) -> str:
    parts = " · ".join(f"{stage} {value:.1f}" for stage, value in seconds.items())
    line = f"**Seconds per stage:** {parts} (total {sum(seconds.values()):.1f} s)."
    if reused:
        line += " The person was reused: the same photos came before, so the fit was skipped."
    return line


def _warm_up(runner: DemoRunner) -> None:
    """Load the models before the first click; a failure is the first request's to report."""
    try:
        runner.warm_up()
    except Exception as err:
        log.warning("loading the models at start failed (%s); the first request will retry", err)


def _examples() -> tuple[list[list[Any]], list[str]]:
    """The shipped example photos with their prompts, and a label for each."""
    found = [(name, prompt) for name, prompt in EXAMPLES.items() if (EXAMPLES_DIR / name).is_file()]
    return (
        [[[str(EXAMPLES_DIR / name)], prompt] for name, prompt in found],
        [f"{name}: {prompt}" for name, prompt in found],
    )


def build_app(runner: DemoRunner) -> gradio.Blocks:
    """The page over ``runner``: the person-video tab and the motion-only tab."""
    # Gradio is optional: imported when the page is built.
    import gradio as gr

    with gr.Blocks(
        title="vmc: a photo and a sentence -> a video",
        analytics_enabled=False,
        delete_cache=(3600, 6 * 3600),  # hourly, Gradio's copies older than 6 hours go
    ) as app:
        gr.Markdown(
            "# vmc: a photo and a sentence → a video of that person\n"
            "Upload photos of one person (or pick an example), say what they should do, and "
            "press **Generate**. Everything runs on this machine; uploads and results are "
            "deleted when the demo stops. Read `RESPONSIBLE_USE.md` before animating real people."
        )
        with gr.Tab("Person video"):
            _video_tab(runner)
        with gr.Tab("Motion only"):
            _motion_tab(runner)
    # Jobs wait for their device in the runner (one at a time per device); the queue lets as
    # many run as there are devices, and a page stays responsive meanwhile.
    app.queue(default_concurrency_limit=len(available_devices()))
    return app


def _default_seconds(runner: DemoRunner) -> float:
    cfg = runner.cfg
    return float(cfg.seconds or cfg.num_frames / cfg.fps)


def _video_tab(runner: DemoRunner) -> None:
    """Photos + text + options -> the person's video and everything about it."""
    # Gradio is optional: imported when the page is built.
    import gradio as gr

    cfg = runner.cfg
    with gr.Row():
        with gr.Column(scale=1):
            photos = gr.File(
                label=f"Photos of one person (JPEG or PNG; up to {MAX_PHOTOS}, at most "
                f"{runner.max_upload_mb:g} MB each)",
                file_count="multiple",
                file_types=["image"],
                elem_id="photos",
            )
            text = gr.Textbox(
                label="What should they do? (one prompt a line, performed in order)",
                placeholder="a person raises both arms",
                lines=3,
                elem_id="prompt",
            )
            examples, labels = _examples()
            if examples:
                gr.Examples(
                    examples, inputs=[photos, text], example_labels=labels,
                    label="Or pick an example (examples/)",
                )  # fmt: skip
            with gr.Accordion("Options", open=True):
                options = [
                    gr.Number(
                        value=_default_seconds(runner),
                        label=f"Seconds (more than 0, at most {MAX_SECONDS:g})",
                        elem_id="seconds",
                    ),
                    gr.Radio(
                        list(SIZES), value=int(cfg.image_size), label="Video size (long side, px)",
                        elem_id="size",
                    ),
                    gr.Radio(
                        list(FRAMINGS), value=str(cfg.framing), label="Framing", elem_id="framing",
                        info="full: the photo's own frame; crop: a square around the person",
                    ),
                    gr.Radio(
                        list(ROOT_MOTIONS), value=str(cfg.root_motion), label="Root motion",
                        info="in_place: turns kept, travel dropped; follow: travels and turns; "
                        "reference: upright, facing the camera",
                    ),
                    gr.Radio(
                        list(APPEARANCE_KINDS), value=str(cfg.appearance), label="Appearance",
                        info="warp: the photo's texture re-posed; lwg: the Liquid Warping GAN "
                        "(needs its weights); auto: lwg when they are found",
                    ),
                    gr.Number(value=int(cfg.seed), precision=0, label="Seed", elem_id="seed"),
                    gr.Radio(
                        ["auto", *available_devices()], value=str(cfg.device), label="Device"
                    ),
                ]  # fmt: skip
            generate = gr.Button("Generate", variant="primary", elem_id="generate")
        with gr.Column(scale=2):
            outputs = [
                gr.Video(label="The video", elem_id="result-video", autoplay=True, height=480),
                gr.Video(
                    label="Photo | motion on the body | result", elem_id="preview-video",
                    height=280,
                ),
                gr.Image(
                    label="The fitted body over the photo (crop | body)", type="numpy",
                    interactive=False, elem_id="fitted", height=280,
                ),
                gr.Markdown(elem_id="seconds-per-stage"),
                gr.Dataframe(
                    headers=["stage", "implementation", "why"], interactive=False, wrap=True,
                    label="Which implementation ran, and why", elem_id="stages",
                    column_widths=STAGE_COLUMNS,
                ),
                gr.File(
                    label="Downloads: the video, the motion (.npz, .bvh)", file_count="multiple",
                    interactive=False, elem_id="downloads",
                ),
            ]  # fmt: skip

    def make_video(
        photos, text, seconds, size, framing, root_motion, appearance, seed, device,
        progress=gr.Progress(),  # noqa: B008 (Gradio's way to ask for a progress bar)
    ):  # fmt: skip
        options = VideoOptions(
            seconds=seconds, image_size=int(size), framing=framing, root_motion=root_motion,
            appearance=appearance, seed=seed, device=device,
        )  # fmt: skip
        watch = JobProgress(VIDEO_STAGES, runner.estimates)
        try:
            result = _run(lambda: runner.video(photos, text, options, watch), watch, progress)
        except Exception as err:
            raise _page_error(err, {str(p): Path(p).name for p in photos or []}) from None
        return (
            str(result.video),
            str(result.preview),
            result.fitted,
            _seconds_line(result.seconds, result.reused),
            [list(row) for row in result.stages],
            [str(p) for p in result.downloads],
        )

    generate.click(
        make_video, inputs=[photos, text, *options], outputs=outputs, concurrency_id="jobs"
    )


def _motion_tab(runner: DemoRunner) -> None:
    """Text -> the motion on the body and its files, with no photo."""
    # Gradio is optional: imported when the page is built.
    import gradio as gr

    gr.Markdown("Text → motion, on the body alone: no photo needed.")
    with gr.Row():
        with gr.Column(scale=1):
            inputs = [
                gr.Textbox(
                    label="The motion (one prompt a line, performed in order)",
                    placeholder="somebody hops up and down", lines=3, elem_id="motion-prompt",
                ),
                gr.Number(
                    value=_default_seconds(runner), elem_id="motion-seconds",
                    label=f"Seconds (more than 0, at most {MAX_SECONDS:g})",
                ),
                gr.Number(value=int(runner.cfg.seed), precision=0, label="Seed"),
            ]  # fmt: skip
            generate = gr.Button("Generate", variant="primary", elem_id="motion-generate")
        with gr.Column(scale=2):
            outputs = [
                gr.Video(
                    label="The motion on the body", elem_id="motion-video", autoplay=True,
                    height=480,
                ),
                gr.Markdown(),
                gr.Dataframe(
                    headers=["stage", "implementation", "why"], interactive=False, wrap=True,
                    label="Which implementation ran, and why", column_widths=STAGE_COLUMNS,
                ),
                gr.File(
                    label="Downloads: the motion (.npz, .bvh)", file_count="multiple",
                    interactive=False, elem_id="motion-downloads",
                ),
            ]  # fmt: skip

    def make_motion(
        text, seconds, seed,
        progress=gr.Progress(),  # noqa: B008 (Gradio's way to ask for a progress bar)
    ):  # fmt: skip
        watch = JobProgress(MOTION_STAGES, runner.estimates)
        try:
            result = _run(lambda: runner.motion(text, seconds, seed, watch), watch, progress)
        except Exception as err:
            raise _page_error(err, {}) from None
        return (
            str(result.preview),
            _seconds_line(result.seconds, False),
            [list(row) for row in result.stages],
            [str(p) for p in result.downloads],
        )

    generate.click(make_motion, inputs=inputs, outputs=outputs, concurrency_id="jobs")


def serve(
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    share: bool = False,
    max_upload_mb: float = MAX_UPLOAD_MB,
    warm_up: bool = True,
    stop: threading.Event | None = None,
) -> int:
    """Serve the page until Ctrl-C (or SIGTERM, or ``stop``); returns the exit code.

    Prints the address once the server answers. Uploads, results and Gradio's own cache live in
    one temporary folder, removed when the server stops.
    """
    workdir = Path(tempfile.mkdtemp(prefix="vmc-demo-"))
    # Read by Gradio when it is imported: its uploads and cache go into our folder, and it
    # sends no analytics (no version check either).
    os.environ["GRADIO_TEMP_DIR"] = str(workdir / "gradio")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    stop = stop or threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    app = None
    try:
        runner = DemoRunner(workdir, max_upload_mb=max_upload_mb)
        app = build_app(runner)
        _, local_url, share_url = app.launch(
            server_name=host,
            server_port=port,
            share=share,
            prevent_thread_lock=True,
            quiet=True,
            show_error=False,
            max_file_size=int(max_upload_mb * MEGABYTE),
            ssr_mode=False,
            mcp_server=False,
            enable_monitoring=False,
            footer_links=["gradio", "settings"],
        )
        print(f"vmc demo: {local_url} (Ctrl-C stops it)", flush=True)
        if share_url:
            print(f"vmc demo: public link {share_url} (anyone with it can use this machine)")
        if warm_up:
            threading.Thread(target=_warm_up, args=(runner,), daemon=True).start()
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if app is not None:
            app.close()
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"vmc demo: stopped; removed {workdir}", file=sys.stderr, flush=True)
    return 0
