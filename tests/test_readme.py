"""The README's links and pictures: every local file it points to is in the repository, not only on the machine
that drew it."""

import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]


def local_links(text: str) -> list[str]:
    """Targets of markdown links and images that are paths in this repository (not URLs or anchors)."""
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t.split("#")[0] for t in targets if not re.match(r"^[a-z]+:|^#", t) and t.split("#")[0]]


def test_every_local_file_the_readme_links_is_tracked_by_git():
    links = local_links((ROOT / "README.md").read_text())
    assert any(link.endswith(".png") for link in links)  # the README shows pictures; each must be committed
    tracked = set(subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.splitlines())
    missing = [link for link in links if link not in tracked]
    assert not missing, f"README links files git does not track: {missing}"


def test_the_link_finder_sees_images_and_skips_urls():
    text = "![a](notebooks/a.png) [b](benchmarks/RESULTS.md#speed) [c](https://example.org/x.png) [d](#design)"
    assert local_links(text) == ["notebooks/a.png", "benchmarks/RESULTS.md"]
