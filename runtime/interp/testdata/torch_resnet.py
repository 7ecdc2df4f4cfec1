"""PyTorch twin of a netc ResNet, for the interpreter's cross-check.

Usage: python3 torch_resnet.py CONFIG.json OUT.safetensors

CONFIG names the network (stem, block, stages, width, classes, input, norm,
groups, mean, std), the spec text and the training run (steps, batch, lr,
seed). The script builds the IAT ResNet (torchvision v1.5 layout) with
netc's initialization, writes its initial weights and random batches to OUT
in safetensors with netc's parameter names, trains it with SGD (Nesterov
momentum 0.9, weight decay 1e-4 on conv and linear weights) and prints JSON:
the loss of every step and the final logits in inference mode.
"""
import json, struct, sys
import torch, torch.nn as nn, torch.nn.functional as F

cfg = json.load(open(sys.argv[1]))
torch.manual_seed(cfg["seed"])
torch.set_num_threads(1)


def norm(c):
    if cfg["norm"] == "gn":
        return nn.GroupNorm(cfg["groups"], c, eps=1e-5)
    return nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)


class Block(nn.Module):
    def __init__(self, cin, width, stride, bottleneck):
        super().__init__()
        out = width * (4 if bottleneck else 1)
        if bottleneck:
            self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), norm(width)
            self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), norm(width)
            self.conv3, self.bn3 = nn.Conv2d(width, out, 1, bias=False), norm(out)
            last = self.bn3
        else:
            self.conv1, self.bn1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False), norm(width)
            self.conv2, self.bn2 = nn.Conv2d(width, out, 3, 1, 1, bias=False), norm(out)
            last = self.bn2
        nn.init.zeros_(last.weight)
        self.bottleneck = bottleneck
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), norm(out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        if self.bottleneck:
            y = F.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
        else:
            y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        c, w, bott = cfg["input"][0], cfg["width"], cfg["block"] == "bottleneck"
        self.imagenet = cfg["stem"] == "imagenet"
        k, s, p = (7, 2, 3) if self.imagenet else (3, 1, 1)
        self.conv1, self.bn1 = nn.Conv2d(c, w, k, s, p, bias=False), norm(w)
        cin = w
        for i, n in enumerate(cfg["stages"]):
            blocks = []
            for b in range(n):
                blocks.append(Block(cin, w << i, 2 if (b == 0 and i > 0) else 1, bott))
                cin = (w << i) * (4 if bott else 1)
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*blocks))
        self.nstages = len(cfg["stages"])
        self.fc = nn.Linear(cin, cfg["classes"])
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.normal_(self.fc.weight, 0, 0.01)
        nn.init.zeros_(self.fc.bias)
        self.mean = torch.tensor(cfg["mean"]).view(1, -1, 1, 1)
        self.std = torch.tensor(cfg["std"]).view(1, -1, 1, 1)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1((x - self.mean) / self.std)))
        if self.imagenet:
            x = F.max_pool2d(x, 3, 2, 1)
        for i in range(self.nstages):
            x = getattr(self, "layer%d" % (i + 1))(x)
        return self.fc(x.mean((2, 3)))


net = ResNet()
steps, batch = cfg["steps"], cfg["batch"]
x = torch.rand(steps * batch, *cfg["input"])
y = torch.randint(0, cfg["classes"], (steps * batch,))

def save(path, tensors, metadata=None):
    """Writes tensors as float32 safetensors, with metadata if given."""
    header, blobs, off = {}, [], 0
    for k, v in tensors.items():
        b = v.contiguous().numpy().astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# The weights as a netc checkpoint; the batches beside it.
save(sys.argv[2], {k: v.float() for k, v in net.state_dict().items() if "num_batches" not in k},
     {"netc": json.dumps({"format": "netc-checkpoint/1", "spec": cfg["spec"]})})
save(sys.argv[2] + ".data", {"data.x": x, "data.y": y.float()})

decay = [p for n, p in net.named_parameters() if n.endswith("weight") and p.dim() > 1]
other = [p for n, p in net.named_parameters() if not (n.endswith("weight") and p.dim() > 1)]
opt = torch.optim.SGD([{"params": decay, "weight_decay": 1e-4}, {"params": other, "weight_decay": 0}],
                      lr=cfg["lr"], momentum=0.9, nesterov=True)
losses = []
for s in range(steps):
    xb, yb = x[s * batch:(s + 1) * batch], y[s * batch:(s + 1) * batch]
    loss = F.cross_entropy(net(xb), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
net.eval()
with torch.no_grad():
    logits = net(x[:batch])
print(json.dumps({"losses": losses, "logits": logits.flatten().tolist()}))
