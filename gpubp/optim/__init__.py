"""Optimizers and learning-rate schedules."""

from . import lr_scheduler
from .optimizer import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
