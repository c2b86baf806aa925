"""RESULTS.md sections: a benchmark replaces only its own section."""

from lerobot_notebook_pipeline.results import write_results_section


def test_sections_are_added_and_replaced_in_place(tmp_path):
    path = tmp_path / "RESULTS.md"
    write_results_section(path, "Sim env", "fast: 1 step/s")
    write_results_section(path, "Training", "0.4 s/step\n\nmore")
    write_results_section(path, "Sim env", "fast: 90 steps/s")
    text = path.read_text()
    assert text.startswith("# Benchmark results")
    assert text.count("## Sim env") == 1 and "90 steps/s" in text and "1 step/s" not in text
    assert text.index("## Sim env") < text.index("## Training") and "0.4 s/step\n\nmore" in text
