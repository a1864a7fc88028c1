"""Setting up the data: data sets, train/dev/test splits, input normalization,
same-distribution checks and data augmentation (the lecture's first part).

Imports only the base modules (errors, _validation, _random); nothing of the engine or above."""

from __future__ import annotations

from deeprecipe.data.augmentation import Augmenter
from deeprecipe.data.datasets import Dataset, load_file
from deeprecipe.data.embedded import DATASETS, load_dataset
from deeprecipe.data.distribution import DistributionCheck, same_distribution
from deeprecipe.data.mapped import convert
from deeprecipe.data.splits import Split, SplitSizes, split, split_indices, split_sizes
from deeprecipe.data.standardizer import Standardizer

__all__ = [
    "load_dataset",
    "Dataset",
    "load_file",
    "split",
    "split_indices",
    "convert",
    "split_sizes",
    "Split",
    "SplitSizes",
    "Standardizer",
    "same_distribution",
    "DistributionCheck",
    "Augmenter",
    "DATASETS",
]
