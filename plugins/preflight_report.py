"""What the preflight found: samples that would break training (offenders), the token distribution, the verdict."""

import statistics
from dataclasses import dataclass, field

MAX_LISTED = 20  # offenders named in the error message; all of them go to dropped.json with --drop-offending
VIDEO_TRUNCATED, TEXT_TRUNCATED, UNREADABLE = "video_truncated", "text_truncated", "unreadable_clip"
UNDECODABLE = "undecodable_clip"  # the header reads, the sampled frames do not decode
CHAT_MARKUP = "chat_markup"  # a placeholder or chat token in a turn's text
ENCODE_ERROR = "encode_error"  # LLaMA-Factory refused to encode the sample
SKIPPED_DECODE_WARNING = (
    "WARNING: decode check SKIPPED (--skip-decode-check): clip headers were read but their frames were not "
    "decoded; a damaged clip will stop training when it is reached"
)


class PreflightError(Exception):
    """Some samples would break training, or the settings are invalid; the message lists them and the fix."""

    def __init__(self, message: str, report: "PreflightReport | None" = None):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class Offender:
    dataset: str
    index: int  # position in the dataset file
    sample_id: str
    videos: list[str]
    reason: str
    tokens: int  # untruncated length (0 where the sample could not be measured)
    video_tokens: int
    detail: str = ""


@dataclass
class PreflightReport:
    cutoff_len: int
    template: str
    n_samples: int = 0
    token_counts: list[int] = field(default_factory=list)
    video_token_counts: list[int] = field(default_factory=list)
    offenders: list[Offender] = field(default_factory=list)
    decode_check: str | None = None  # the decode check's summary line; None when it was skipped
    token_count: str | None = None  # the token count's summary line (samples, seconds, rate, processes)
    warnings: list[str] = field(default_factory=list)  # lines a person should read; training still goes ahead
    frames: str | None = None  # which frames training reads: plugins.frame_source.FrameSource.describe

    def distribution(self, values: list[int] | None = None) -> dict[str, float]:
        """min / median / p95 / max of the samples' token counts."""
        values = sorted(self.token_counts if values is None else values)
        if not values:
            return {}
        p95 = values[min(len(values) - 1, max(0, -(-95 * len(values) // 100) - 1))]  # nearest-rank
        return {"min": values[0], "median": statistics.median(values), "p95": p95, "max": values[-1]}


def _fmt(distribution: dict[str, float]) -> str:
    return "  ".join(f"{key} {value:g}" for key, value in distribution.items()) or "no samples"


def format_report(report: PreflightReport) -> str:
    lines = [
        f"preflight: {report.n_samples} samples, template {report.template}, cutoff_len {report.cutoff_len}",
        f"  tokens per sample   {_fmt(report.distribution())}",
        f"  video tokens        {_fmt(report.distribution(report.video_token_counts))}",
        *([f"  {report.token_count}"] if report.token_count else []),
        f"  {report.decode_check}" if report.decode_check else f"  {SKIPPED_DECODE_WARNING}",
        *([f"  {report.frames}"] if report.frames else []),
        *(f"  {warning}" for warning in report.warnings),
    ]
    if report.offenders:
        lines.append(f"  offending samples   {len(report.offenders)}")
    elif report.decode_check:
        lines.append(f"  ok: every sample fits cutoff_len {report.cutoff_len} and every clip's sampled frames decode")
    else:
        lines.append(
            f"  ok: every sample fits cutoff_len {report.cutoff_len} and every clip's header is readable "
            "(frames not decoded)"
        )
    return "\n".join(lines)


def token_count_summary(n_samples: int, seconds: float, workers: int) -> str:
    """e.g. "token count: 2000 samples in 2.6 s (769.2 samples/s, 2 processes)"."""
    rate = n_samples / seconds if seconds > 0 else 0.0
    return f"token count: {n_samples} samples in {seconds:.1f} s ({rate:.1f} samples/s, {workers} processes)"


def describe(offender: Offender) -> str:
    where = f"{offender.dataset}[{offender.index}] id={offender.sample_id} {', '.join(offender.videos)}"
    if offender.reason == UNREADABLE:
        return f"{where}: clip cannot be read: {offender.detail}"
    if offender.reason == UNDECODABLE:
        return f"{where}: frames cannot be decoded: {offender.detail}"
    if offender.reason == CHAT_MARKUP:
        return f"{where}: text breaks the chat format: {offender.detail}"
    if offender.reason == ENCODE_ERROR:
        return f"{where}: LLaMA-Factory cannot encode it: {offender.detail}"
    cut = "into its video tokens" if offender.reason == VIDEO_TRUNCATED else "in its text"
    return f"{where}: {offender.tokens} tokens ({offender.video_tokens} video) > cutoff_len, truncated {cut}"


def error_message(report: PreflightReport) -> str:
    listed = [f"  {describe(offender)}" for offender in report.offenders[:MAX_LISTED]]
    if len(report.offenders) > MAX_LISTED:
        listed.append(f"  ... and {len(report.offenders) - MAX_LISTED} more")
    reasons = {offender.reason for offender in report.offenders}
    longest = max(offender.tokens for offender in report.offenders)
    fixes = [
        f"raise cutoff_len to at least {longest}" if longest > report.cutoff_len else None,
        "lower video_max_pixels or video_maxlen (fewer video tokens per clip)"
        if reasons & {VIDEO_TRUNCATED, TEXT_TRUNCATED}
        else None,
        "re-convert the data (python -m data.convert_webvid) to skip unreadable clips"
        if UNREADABLE in reasons
        else None,
        "download the damaged clips again (a cut-off or corrupt download does not decode)"
        if UNDECODABLE in reasons
        else None,
        "fix their text: no <image>/<video> placeholder in a caption, one <video> per clip in the prompt, "
        "no <|...|> chat tokens (python -m data.convert_webvid skips such captions)"
        if reasons & {CHAT_MARKUP, ENCODE_ERROR}
        else None,
        "drop them: python -m plugins.preflight CONFIG.yaml [key=value ...] --drop-offending DIR",
    ]
    fixes = [f"  - {'or ' if n else ''}{fix}" for n, fix in enumerate(fix for fix in fixes if fix)]
    return "\n".join(
        [f"{len(report.offenders)} of {report.n_samples} samples would break training:", *listed, "Fix:", *fixes]
    )
