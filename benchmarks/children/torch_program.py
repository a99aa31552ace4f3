"""Another torch program on the same machine, with torch's default threads: it trains a small CNN until killed."""

import torch


def main():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(16 * 28 * 28, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    X, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    while True:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(X), y).backward()
        optimizer.step()


if __name__ == "__main__":
    main()
