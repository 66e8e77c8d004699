"""Packaged behavioural and benchmark datasets, each with its provenance README and licence.

Example:
  >>> import cogsim
  >>> df = cogsim.data.load("rouder2008_change_detection")
  >>> len(df)
  12345
"""

from cogsim.data._catalogue import DATASETS
from cogsim.data._dataset import Dataset
from cogsim.data._reader import read_table
from cogsim.data._registry import citation, folder, info, list, load, readme

__all__ = ["DATASETS", "Dataset", "citation", "folder", "info", "list", "load", "read_table", "readme"]
