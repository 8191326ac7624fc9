"""Chapter 11, "A miniature Towards Monosemanticity": a language model the book trains itself.

* :mod:`.corpus`: Shakespeare's plays, character level (:func:`load_corpus`,
  :class:`CharTokenizer`), four plays held out;
* :mod:`.model`: :class:`OneLayerTransformer`, Bricken et al.'s shape (d_model 128, a 512-neuron
  ReLU MLP), with a hook on the MLP's neurons;
* :mod:`.train`: :func:`train_lm` and the command ``python -m superpos_lib.lm``;
  :func:`nats_per_char` on any text;
* :mod:`.weights`: the shipped model, :func:`load_model` (safetensors, hash checked by the tests);
* :mod:`.sae`: SAEs on the model's neurons (:func:`collect_activations`, :func:`train_lm_sae`,
  :func:`evaluate_sae` with the loss recovered), the shipped one (:func:`load_sae`);
* :mod:`.autointerp`: a short rule per unit learned on half a text, scored on the other half
  (:func:`explain_units`);
* :mod:`.browser`: the feature browser (:func:`browse`), each unit's activations and logit effects;
* :mod:`.steer`: :func:`generate`, with a latent ablated or steered (:func:`latent_hook`);
* :mod:`.figures`: :func:`plot_rule_scores`, :func:`plot_char_shift`.
"""

from .corpus import UNKNOWN, VALIDATION_PLAYS, CharTokenizer, Corpus, load_corpus
from .model import LMConfig, OneLayerTransformer
from .train import LMTrainConfig, LMTraining, nats_per_char, token_nats, train_lm
from .sae import LM_SAE_TRAINING, SAE_COMMANDS, SAE_FILES, SAE_SHA256, collect_activations, evaluate_sae, latent_densities, load_sae, sae_hook, save_sae, train_lm_sae
from .autointerp import CLASSES, RuleScores, context_classes, explain_units
from .browser import UNIT_KINDS, FeatureBrowser, UnitCard, browse, logit_effects, unit_activations, unit_directions
from .figures import UNIT_COLOURS, plot_char_shift, plot_rule_scores
from .steer import generate, latent_hook
from .weights import MODEL_COMMAND, MODEL_FILE, MODEL_SHA256, file_sha256, load_model, save_model

__all__ = [
    "UNKNOWN",
    "VALIDATION_PLAYS",
    "CharTokenizer",
    "Corpus",
    "load_corpus",
    "LMConfig",
    "OneLayerTransformer",
    "LMTrainConfig",
    "LMTraining",
    "nats_per_char",
    "token_nats",
    "train_lm",
    "MODEL_COMMAND",
    "MODEL_FILE",
    "MODEL_SHA256",
    "file_sha256",
    "load_model",
    "save_model",
    "LM_SAE_TRAINING",
    "SAE_COMMANDS",
    "SAE_FILES",
    "SAE_SHA256",
    "collect_activations",
    "evaluate_sae",
    "latent_densities",
    "load_sae",
    "sae_hook",
    "save_sae",
    "train_lm_sae",
    "CLASSES",
    "RuleScores",
    "context_classes",
    "explain_units",
    "UNIT_KINDS",
    "FeatureBrowser",
    "UnitCard",
    "browse",
    "logit_effects",
    "unit_activations",
    "unit_directions",
    "UNIT_COLOURS",
    "plot_char_shift",
    "plot_rule_scores",
    "generate",
    "latent_hook",
]
