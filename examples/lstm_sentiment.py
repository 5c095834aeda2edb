"""An LSTM classifier on synthetic sentiment: generated token sequences (no download) -> positive or negative.

The data comes from gpubp.data.datasets.make_sentiment: a label says whether positive words outnumber negative ones.

python examples/lstm_sentiment.py [--epochs 8] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse

import gpubp
import gpubp.nn as nn
from gpubp import optim
from gpubp.data import DataLoader, datasets


class SentimentLSTM(nn.Module):
    def __init__(self, vocab: int = 60, embed: int = 32, hidden: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, tokens: gpubp.Tensor) -> gpubp.Tensor:
        _, (h, _) = self.lstm(self.embed(tokens))  # h: (layers, N, hidden), after the last token
        return self.head(h[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    gpubp.manual_seed(0)
    device = args.device or ("cuda" if gpubp.cuda.is_available() else "cpu")

    train, test = datasets.make_sentiment()  # (N, 24) token ids, labels 0/1
    train_loader = DataLoader(train, batch_size=64, shuffle=True, seed=0, device=device)
    test_loader = DataLoader(test, batch_size=512, device=device)
    model = SentimentLSTM().to(device)
    optimizer = optim.Adam(model.parameters(), lr=5e-3)

    for epoch in range(1, args.epochs + 1):
        model.train()
        for tokens, labels in train_loader:
            loss = nn.functional.cross_entropy(model(tokens), labels)
            optimizer.zero_grad()
            loss.backward()  # backpropagation through time: the tape unrolls every step
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        model.eval()
        correct = gpubp.zeros((), device=device)
        with gpubp.no_grad():
            for tokens, labels in test_loader:
                correct += (model(tokens).argmax(1) == labels).sum()
        print(f"epoch {epoch:2d}  loss {loss.item():.4f}  test accuracy {correct.item() / len(test):.3f}")


if __name__ == "__main__":
    main()
