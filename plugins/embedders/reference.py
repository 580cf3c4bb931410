"""The embedders behind the published AudioCaps tables (AudioGAN Table 1, AudioLDM, Tango):
VGGish (FAD), PANNs CNN14 (FD, IS, KL) and LAION CLAP (CLAP score).

Each loads a checkpoint the user supplies (checkpoint=PATH; nothing is downloaded). With these
checkpoints, on the AudioCaps test set, the numbers are comparable with the published tables;
with any other embedder (the default `aisfx` included) they are not.
"""
from audiogan_core.hookspecs import hookimpl

from .clap import ClapEmbedder
from .panns import PannsEmbedder
from .vggish import VGGishEmbedder


@hookimpl
def register_embedders(register):
    register("vggish", VGGishEmbedder,
             description="VGGish (torchvggish vggish-10086976.pth; checkpoint=PATH): FAD on 0.96 s frame embeddings")
    register("panns", PannsEmbedder,
             description="PANNs CNN14 (Cnn14_mAP=0.431.pth; checkpoint=PATH): FD, IS, KL with 527 AudioSet classes")
    register("clap", ClapEmbedder,
             description="LAION CLAP via transformers (clap-htsat-unfused folder or 630k-audioset-best.pt + "
                         "tokenizer=FOLDER): CLAP score")
