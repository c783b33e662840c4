"""Evaluation of Qwen2-VL video captioning: inputs, generation, cleaning, metrics, predictions, report."""
