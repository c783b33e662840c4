"""data.probe_cache: every probe failure is a named outcome the converter can count; a dead worker is an error."""

from data.convert_report import SKIP_REASONS
from plugins.video_sampling import REASONS


def test_every_probe_reason_is_a_skip_reason_the_converter_can_count():
    """A probe reason the report does not know would make ConversionReport.skip raise mid-run."""
    assert set(REASONS) - set(SKIP_REASONS) == set()
