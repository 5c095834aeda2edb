"""A variational autoencoder (as PyTorch's examples/vae) on synthetic 8x8 images. The reparameterisation noise comes
from the data loader (common random numbers), so two frameworks see the same draws."""

import argparse
import json

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc21 = nn.Linear(32, 8)
        self.fc22 = nn.Linear(32, 8)
        self.fc3 = nn.Linear(8, 32)
        self.fc4 = nn.Linear(32, 64)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar, eps):
        std = torch.exp(0.5 * logvar)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x, eps):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar, eps)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    """Reconstruction + KL divergence losses summed over all elements and batch."""
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def images(n, seed):
    rng = np.random.default_rng(seed)
    strokes = rng.random((4, 64)) > 0.6
    x = strokes[rng.integers(0, 4, n)] * 0.9 + 0.05 * rng.random((n, 64))
    eps = rng.standard_normal((n, 8))
    return torch.from_numpy(x.reshape(n, 1, 8, 8).astype(np.float32)), torch.from_numpy(eps.astype(np.float32))


def main():
    parser = argparse.ArgumentParser(description="VAE")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--no-shuffle", action="store_true")
    parser.add_argument("--save-init", default=None)
    parser.add_argument("--load-init", default=None)
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kwargs = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
    train_loader = DataLoader(
        TensorDataset(*images(160, 0)), batch_size=args.batch_size, shuffle=not args.no_shuffle, **kwargs
    )
    test_loader = DataLoader(TensorDataset(*images(64, 1)), batch_size=32, shuffle=False, **kwargs)

    model = VAE()
    if args.save_init:
        torch.save(model.state_dict(), args.save_init)
    if args.load_init:
        model.load_state_dict(torch.load(args.load_init, map_location=device))
    model = model.to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)

    model.train()
    step = 0
    while step < args.steps:
        for data, eps in train_loader:
            data, eps = data.to(device), eps.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data, eps)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            optimizer.step()
            print(json.dumps({"step": step, "loss": loss.item() / len(data)}))
            step += 1
            if step == args.steps:
                break

    model.eval()
    test_loss = 0
    with torch.no_grad():
        for data, eps in test_loader:
            data, eps = data.to(device), eps.to(device)
            recon_batch, mu, logvar = model(data, eps)
            test_loss += loss_function(recon_batch, data, mu, logvar).item()
    print(json.dumps({"test_loss": test_loss / len(test_loader.dataset)}))


if __name__ == "__main__":
    main()
