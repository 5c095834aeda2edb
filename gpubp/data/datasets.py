"""Built-in datasets that work offline on a fresh machine.

scikit-learn ships digits, breast cancer and diabetes inside its wheel (pip install 'gpubp[data]');
the sentiment task is generated; MNIST / Fashion-MNIST are read from local IDX files.
Each loader returns (train, test) TensorDatasets with a fixed, seeded split.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from .loader import TensorDataset

__all__ = ["load_digits", "load_breast_cancer", "load_diabetes", "make_sentiment", "load_mnist", "read_idx"]


def _sklearn(name: str):  # noqa: ANN202
    try:
        import sklearn.datasets as skd
    except ImportError:
        raise ImportError(f"{name}: needs scikit-learn, which ships this dataset: pip install 'gpubp[data]'") from None
    return skd


def _split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int, standardize: bool) -> tuple:
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test = int(round(len(x) * test_fraction))
    xtr, ytr, xte, yte = x[n_test:], y[n_test:], x[:n_test], y[:n_test]
    if standardize:
        mean, std = xtr.mean(0), xtr.std(0) + 1e-6  # statistics of the training part only
        xtr, xte = (xtr - mean) / std, (xte - mean) / std
    return TensorDataset(xtr.astype(np.float32), ytr), TensorDataset(xte.astype(np.float32), yte)


def load_digits(image: bool = False, test_fraction: float = 0.2, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """1,797 handwritten digits, 8x8: features (N, 64), or images (N, 1, 8, 8) with ``image``; labels 0-9."""
    data = _sklearn("load_digits").load_digits()
    x = data.data.astype(np.float32) / 16.0
    if image:
        train, test = _split(x, data.target.astype(np.int64), test_fraction, seed, False)
        return (
            TensorDataset(train.arrays[0].reshape(-1, 1, 8, 8), train.arrays[1]),
            TensorDataset(test.arrays[0].reshape(-1, 1, 8, 8), test.arrays[1]),
        )
    return _split(x, data.target.astype(np.int64), test_fraction, seed, True)


def load_breast_cancer(test_fraction: float = 0.2, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """569 tumours, 30 standardized features; label 1 = benign."""
    data = _sklearn("load_breast_cancer").load_breast_cancer()
    return _split(data.data, data.target.astype(np.int64), test_fraction, seed, True)


def load_diabetes(test_fraction: float = 0.2, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """442 patients, 10 standardized features; target (N, 1): disease progression, standardized."""
    data = _sklearn("load_diabetes").load_diabetes()
    y = data.target.astype(np.float32)
    y = ((y - y.mean()) / y.std()).reshape(-1, 1)
    return _split(data.data, y, test_fraction, seed, True)


def make_sentiment(
    n: int = 4000, seq_len: int = 24, vocab: int = 60, test_fraction: float = 0.2, seed: int = 0
) -> tuple[TensorDataset, TensorDataset]:
    """Synthetic sentiment: token sequences (N, seq_len) from a vocabulary where ids 1-10 are positive
    words, 11-20 negative words and the rest neutral; id 0 pads. The label (1 = positive) says
    whether positive words outnumber negative ones; a 'not' token (id 21) flips the next word."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, seq_len), dtype=np.int64)
    y = np.zeros(n, dtype=np.int64)
    i = 0
    while i < n:
        length = rng.integers(seq_len // 2, seq_len + 1)
        words = rng.integers(1, vocab, length)
        polarity = np.where(words <= 10, 1, np.where(words <= 20, -1, 0))
        flip = np.concatenate([[False], words[:-1] == 21])
        score = int((np.where(flip, -polarity, polarity)).sum())
        if score == 0:
            continue  # no ties: every example has an answer
        x[i, seq_len - length :] = words  # left-padded: the last step has read every word
        y[i] = int(score > 0)
        i += 1
    n_test = int(round(n * test_fraction))
    return TensorDataset(x[n_test:], y[n_test:]), TensorDataset(x[:n_test], y[:n_test])


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (the MNIST format), optionally gzipped, as a NumPy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number)")
    types = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in types:
        raise ValueError(f"read_idx: {path} has unknown element type 0x{raw[2]:02x}")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"read_idx: {path} is truncated (header)")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(types[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    body = raw[4 + 4 * ndim :]
    if len(body) != expected:
        raise ValueError(f"read_idx: {path} holds {len(body)} data bytes, its header promises {expected}")
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def load_mnist(path: str | Path, kind: str = "train") -> TensorDataset:
    """MNIST or Fashion-MNIST from a folder of IDX files ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]):
    images (N, 1, 28, 28) scaled to [0, 1], labels int64."""
    if kind not in ("train", "test"):
        raise ValueError(f"load_mnist: kind must be 'train' or 'test', got {kind!r}")
    folder = Path(path)
    prefix = "train" if kind == "train" else "t10k"

    def find(stem: str) -> Path:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
        raise FileNotFoundError(f"load_mnist: {folder / stem}[.gz] not found")

    images = read_idx(find(f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(find(f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ValueError(f"load_mnist: images {images.shape} and labels {labels.shape} do not match")
    return TensorDataset((images.astype(np.float32) / 255.0)[:, None], labels.astype(np.int64))
