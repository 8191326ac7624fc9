"""A feature browser that works without a kernel: SAE latents and MLP neurons side by side.

:func:`unit_activations` reads every unit on a text (latents, neurons or random directions),
:func:`logit_effects` says which characters a unit's output promotes and suppresses, and
:func:`browse` gathers, per unit, what Bricken et al.'s browser shows: its density, its
top-activating contexts with every character's activation, samples from lower activation
ranges, its logit effects, its nearest units and the rule :func:`~.autointerp.explain_units`
learned for it. :class:`FeatureBrowser` displays them as one self-contained HTML block (data as
JSON and a little JavaScript, no network), with a search box, in Jupyter and on the static site.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor

from ..checks import check_positive_int
from ..sae import SparseAutoencoder
from .autointerp import RuleScores, explain_units
from .model import OneLayerTransformer

__all__ = ["UNIT_KINDS", "UnitCard", "FeatureBrowser", "unit_activations", "logit_effects", "unit_directions",
           "browse"]

UNIT_KINDS = ("latent", "neuron", "random")
"""What a unit can be: an SAE latent, an MLP neuron or a random direction in neuron space."""

_BEFORE, _AFTER = 32, 8  # characters shown around a context's activating character
_BINS = ((0.5, 0.75), (0.25, 0.5), (0.0, 0.25))  # lower activation ranges, as shares of the maximum


def _windows(model: OneLayerTransformer, text: str) -> Tensor:
    n_ctx = model.config.n_ctx
    if not isinstance(text, str) or len(text) < n_ctx:
        raise ValueError(f"text must be a string of at least n_ctx={n_ctx} characters")
    tokens = model.tokenizer.encode(text[: len(text) // n_ctx * n_ctx], unknown="replace")
    return tokens.view(-1, n_ctx)


def unit_directions(kind: str, model: OneLayerTransformer, sae: SparseAutoencoder | None = None, *,
                    n_random: int = 512, seed: int = 0) -> Float[Tensor, "units d_mlp"]:
    """Each unit's direction in neuron space, in the neurons' own units: what one unit of the
    latent adds to the SAE's reconstruction (``latent``: a decoder row divided by the SAE's input
    scale, :attr:`~superpos_lib.sae.SparseAutoencoder.scale`), the standard basis (``neuron``) or
    ``n_random`` random unit vectors (``random``, seeded)."""
    d_mlp = model.config.d_mlp
    if kind == "latent":
        if not isinstance(sae, SparseAutoencoder) or sae.d_in != d_mlp:
            raise ValueError(f"sae must be a SparseAutoencoder of the model's {d_mlp} neurons for kind='latent'")
        return sae.model.W_dec[0].detach().float().cpu() / sae.scale
    if kind == "neuron":
        return torch.eye(d_mlp)
    if kind == "random":
        check_positive_int(n_random, "n_random")
        r = torch.randn(n_random, d_mlp, generator=torch.Generator().manual_seed(seed))
        return r / r.norm(dim=1, keepdim=True)
    raise ValueError(f"kind must be one of {UNIT_KINDS}, got {kind!r}")


@torch.no_grad()
def unit_activations(model: OneLayerTransformer, text: str, kind: str = "latent", sae: SparseAutoencoder | None = None,
                     *, columns: Sequence[int] | Tensor | None = None, n_random: int = 512, seed: int = 0,
                     dtype: torch.dtype = torch.float32, batch_size: int = 32) -> Float[Tensor, "n units"]:
    """Every unit's activation at every character of ``text`` (read in consecutive windows of
    ``n_ctx`` characters; a tail shorter than a window is dropped, so ``n`` is a multiple of
    ``n_ctx``): SAE latents (``kind="latent"``), MLP neurons or projections of the neurons on
    random unit directions (``"random"``). ``columns``: keep only these units; ``dtype``: of the
    result (``torch.float16`` halves the memory of 2,048 latents at every character)."""
    if kind not in UNIT_KINDS:
        raise ValueError(f"kind must be one of {UNIT_KINDS}, got {kind!r}")
    windows = _windows(model, text)
    directions = unit_directions(kind, model, sae, n_random=n_random, seed=seed) if kind != "neuron" else None
    n_units = model.config.d_mlp if directions is None else directions.shape[0]
    if columns is not None:
        columns = torch.as_tensor(columns, dtype=torch.long).flatten()
        if columns.numel() and not (0 <= int(columns.min()) and int(columns.max()) < n_units):
            raise ValueError(f"columns must be unit indices in [0, {n_units}), got {columns.tolist()}")
    dev = next(model.parameters()).device
    n_ctx = model.config.n_ctx
    if dtype not in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
        raise ValueError(f"dtype must be a floating-point dtype, got {dtype}")
    out = torch.empty(windows.numel(), n_units if columns is None else columns.numel(), dtype=dtype)
    for b in range(0, windows.shape[0], batch_size):
        acts = model.mlp_activations(windows[b : b + batch_size].to(dev)).reshape(-1, model.config.d_mlp)
        if kind == "latent":
            acts = sae.encode(acts.to(sae.W_dec.device))
        elif kind == "random":
            acts = acts @ directions.to(acts.device).T
        out[b * n_ctx : b * n_ctx + acts.shape[0]] = (acts if columns is None else acts[:, columns.to(acts.device)]).cpu()
    return out


@torch.no_grad()
def logit_effects(model: OneLayerTransformer, directions: Float[Tensor, "units d_mlp"]) -> Float[Tensor, "units vocab"]:
    """What each unit's output does to the next-character logits directly: its direction in
    neuron space through ``W_out``, the final LayerNorm's centring (over ``d_model``) and gain,
    and ``W_U``, centred over the vocabulary. The LayerNorm's division by the stream's spread,
    which depends on the input, is left out, as in Bricken et al.'s "logit weights"."""
    d_mlp = model.config.d_mlp
    if not isinstance(directions, Tensor) or directions.ndim != 2 or directions.shape[1] != d_mlp:
        raise ValueError(f"directions must be a (units, {d_mlp}) tensor, got {getattr(directions, 'shape', None)}")
    resid = directions.float().to(model.W_out.weight.device) @ model.W_out.weight.T  # (units, d_model)
    resid = resid - resid.mean(1, keepdim=True)  # the LayerNorm subtracts the mean first
    logits = (resid * model.ln_f.weight) @ model.W_U.weight.T  # (units, vocab)
    return (logits - logits.mean(1, keepdim=True)).cpu()


@dataclass
class UnitCard:
    """What the browser shows of one unit. Contexts are ``[text, levels, value, after]``: the
    characters up to and a little after the activating one, each character's activation as a
    level 0-9 of the unit's maximum, the activating character's value, and how many characters
    follow it."""

    kind: str
    index: int
    density: float
    max_activation: float
    rule: str
    f1: float | None
    top: list = field(default_factory=list)
    samples: list = field(default_factory=list)  # [[label, contexts], ...] for lower ranges
    promotes: list = field(default_factory=list)  # [[char, logit], ...]
    suppresses: list = field(default_factory=list)
    nearest: list = field(default_factory=list)  # [[index, cosine], ...] of what the units write


def _context(text: str, acts: Tensor, pos: int, n_ctx: int, top: float) -> list:
    start = max(pos - _BEFORE, pos // n_ctx * n_ctx)  # the model saw nothing before its window
    end = min(pos + _AFTER + 1, (pos // n_ctx + 1) * n_ctx, len(text))
    levels = (acts[start:end].clamp_min(0) / top * 9).round().clamp(0, 9).to(torch.int64)
    return [text[start:end], "".join(map(str, levels.tolist())), round(float(acts[pos]), 3), end - pos - 1]


@dataclass
class FeatureBrowser:
    """Units' cards and their display (``_repr_html_``; :meth:`html` for a page of its own)."""

    cards: list[UnitCard]
    text_chars: int
    title: str = "Feature browser"

    def __repr__(self) -> str:
        kinds = [c.kind for c in self.cards]
        return (f"FeatureBrowser({kinds.count('latent')} latents, {kinds.count('neuron')} neurons, "
                f"{self.text_chars:,} characters)")

    def card(self, kind: str, index: int) -> UnitCard:
        """The card of unit ``index`` of ``kind``."""
        for c in self.cards:
            if c.kind == kind and c.index == index:
                return c
        raise ValueError(f"index {index} of kind {kind!r} is not in this browser")

    def data(self) -> str:
        """The cards as compact JSON (what the page carries)."""
        return json.dumps({"chars": self.text_chars, "units": [asdict(c) for c in self.cards]},
                          ensure_ascii=False, separators=(",", ":"))

    @property
    def nbytes(self) -> int:
        """Size of the HTML block in bytes."""
        return len(self._repr_html_().encode())

    def _repr_html_(self) -> str:
        data = self.data().replace("</", "<\\/")
        uid = "spb" + hashlib.blake2b(data.encode(), digest_size=4).hexdigest()  # the same page, the same id
        return (_STYLE.replace("#ID", f"#{uid}")
                + f'<div class="spb" id="{uid}"><div class="spb-bar">'
                + '<label>Search <input type="search" class="spb-q" placeholder="a number, a rule or some text">'
                + '</label><label>Order <select class="spb-order"><option value="index">by number</option>'
                + '<option value="f1">by rule F1</option></select></label>'
                + '<span class="spb-kinds"></span><span class="spb-count"></span></div>'
                + '<div class="spb-main"><ol class="spb-list"></ol><div class="spb-card"></div></div>'
                + f'<script type="application/json" class="spb-data">{data}</script>'
                + f"<script>{_SCRIPT.replace('__ID__', uid).replace('__BEFORE__', str(_BEFORE))}</script></div>")

    def html(self) -> str:
        """A whole HTML page with the browser (write it to a file and open it offline)."""
        return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>'
                f"</head><body>{self._repr_html_()}</body></html>")


@torch.no_grad()
def browse(model: OneLayerTransformer, sae: SparseAutoencoder, text: str, *, latents: Sequence[int] | Tensor,
           neurons: Sequence[int] | Tensor = (), n_top: int = 8, n_samples: int = 3, seed: int = 0,
           explain: bool = True, scores: Mapping[str, RuleScores] | None = None) -> FeatureBrowser:
    """Cards for the chosen ``latents`` of ``sae`` and ``neurons`` of ``model``, read on ``text``.

    Args:
        latents, neurons: the units to show (indices).
        n_top: top-activating contexts per unit.
        n_samples: contexts drawn from each lower activation range (half to three quarters of
            the maximum, a quarter to a half, above zero to a quarter).
        seed: seeds the draws from the lower ranges.
        explain: also learn each unit's rule (:func:`~.autointerp.explain_units`, on every unit
            of the kind, the text read in windows of ``n_ctx``).
        scores: rules already learned on ``text``, by kind (``"latent"``, ``"neuron"``): shown
            instead of learning them again.
    """
    check_positive_int(n_top, "n_top")
    check_positive_int(n_samples, "n_samples")
    n_ctx = model.config.n_ctx
    text = text[: len(text) // n_ctx * n_ctx] if isinstance(text, str) else text
    gen = torch.Generator().manual_seed(seed)
    cards = []
    for kind, chosen in (("latent", latents), ("neuron", neurons)):
        chosen = [int(i) for i in (chosen.tolist() if isinstance(chosen, Tensor) else chosen)]
        if not chosen:
            continue
        directions = unit_directions(kind, model, sae)
        if any(not 0 <= i < directions.shape[0] for i in chosen):
            name = "latents" if kind == "latent" else "neurons"
            raise ValueError(f"{name} must be indices in [0, {directions.shape[0]}), got {chosen}")
        rules = (scores or {}).get(kind)
        if rules is not None and len(rules.rules) != directions.shape[0]:
            raise ValueError(f"scores[{kind!r}] has {len(rules.rules)} units, the {kind}s {directions.shape[0]}")
        if rules is None and explain:
            acts = unit_activations(model, text, kind, sae)
            rules = explain_units(acts, text, model.tokenizer, n_ctx=n_ctx)
            acts = acts[:, chosen]
        else:  # only the units shown
            acts = unit_activations(model, text, kind, sae, columns=chosen)
        effects = logit_effects(model, directions[chosen])
        unit = directions / directions.norm(dim=1, keepdim=True)
        if kind == "neuron":  # a neuron's own direction is one-hot: compare what it writes instead
            w = model.W_out.weight.T.detach().cpu()
            unit = w / w.norm(dim=1, keepdim=True)
        chars = model.tokenizer.chars
        for j, i in enumerate(chosen):
            a = acts[:, j]
            top = float(a.max())
            card = UnitCard(kind, i, float((a > 0).float().mean()), round(top, 3),
                            rules.rules[i] if rules is not None else "",
                            None if rules is None or not rules.scored[i] else round(float(rules.f1[i]), 3))
            if top > 0:
                where = a.topk(min(n_top, int((a > 0).sum()))).indices
                card.top = [_context(text, a, int(p), n_ctx, top) for p in where.tolist()]
                for lo, hi in _BINS:
                    pool = ((a > lo * top) & (a <= hi * top)).nonzero().squeeze(1)
                    pick = pool[torch.randperm(pool.numel(), generator=gen)[:n_samples]].sort().values
                    card.samples.append([f"{lo:g}–{hi:g} of max",
                                         [_context(text, a, int(p), n_ctx, top) for p in pick.tolist()]])
            order = effects[j].argsort(descending=True)
            card.promotes = [[chars[t], round(float(effects[j, t]), 2)] for t in order[:6].tolist()]
            card.suppresses = [[chars[t], round(float(effects[j, t]), 2)] for t in order.flip(0)[:6].tolist()]
            cos = unit @ unit[i]
            cos[i] = -2
            near = cos.topk(4)
            card.nearest = [[int(k), round(float(c), 2)] for c, k in zip(near.values, near.indices)]
            cards.append(card)
    return FeatureBrowser(cards, len(text))


_STYLE = """<style>
#ID{font:14px/1.4 system-ui,sans-serif;border:1px solid #ccc;border-radius:6px;padding:.5em;margin:.5em 0}
#ID .spb-bar{display:flex;flex-wrap:wrap;gap:.8em;align-items:center;margin-bottom:.5em}
#ID .spb-q{width:16em;padding:.2em .4em}
#ID .spb-kinds button{margin-right:.3em;padding:.15em .6em;border:1px solid #999;border-radius:4px;background:#f4f4f4;cursor:pointer}
#ID .spb-kinds button.on{background:#264f78;color:#fff}
#ID .spb-main{display:flex;gap:.8em;align-items:flex-start}
#ID .spb-list{list-style:none;margin:0;padding:0;width:17em;flex:none;max-height:34em;overflow-y:auto;border-right:1px solid #ddd}
#ID .spb-list li{padding:.2em .4em;cursor:pointer;border-radius:3px;font-size:12.5px}
#ID .spb-list li:hover{background:#eef}
#ID .spb-list li.on{background:#dde6f5}
#ID .spb-card{flex:1;min-width:0}
#ID .spb-title{font-size:1.15em;font-weight:600;margin:.1em 0 .3em}
#ID .spb-h{font-weight:600;margin:.7em 0 .2em}
#ID .spb-order{padding:.1em}
#ID .spb-ctx{font:12.5px/1.5 ui-monospace,Menlo,Consolas,monospace;white-space:pre;overflow-x:auto;margin:.1em 0}
#ID .spb-ctx b{outline:1px solid #333}
#ID .spb-meta{color:#555;font-size:12.5px}
#ID .spb-cols{display:flex;flex-wrap:wrap;gap:1.5em}
#ID .spb-cols table{border-collapse:collapse;font-size:12.5px}
#ID .spb-cols td{padding:0 .4em}
#ID .spb-near{cursor:pointer;color:#264f78;text-decoration:underline;margin-right:.6em}
@media (max-width:700px){#ID .spb-main{flex-direction:column}#ID .spb-list{width:100%;max-height:12em;border:0}}
</style>"""

_SCRIPT = r"""(function(){
const root=document.getElementById('__ID__');
const data=JSON.parse(root.querySelector('.spb-data').textContent);
const units=data.units, list=root.querySelector('.spb-list'), card=root.querySelector('.spb-card');
const q=root.querySelector('.spb-q'), order=root.querySelector('.spb-order'), count=root.querySelector('.spb-count'), kindsEl=root.querySelector('.spb-kinds');
const BEFORE=__BEFORE__, NAMES={latent:'SAE latents',neuron:'MLP neurons'};
const kinds=[...new Set(units.map(u=>u.kind))];
let kind=kinds[0], current=null;
const esc=s=>s.replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const show=c=>c==='\n'?'⏎':c===' '?'\u00a0':c;
const label=u=>(u.kind==='latent'?'latent ':'neuron ')+u.index;
function ctx(c){
  const [text,levels,value,after]=c; const at=text.length-after-1; let s='\u00a0'.repeat(Math.max(0,BEFORE-at));
  for(let i=0;i<text.length;i++){
    const a=(+levels[i])/9, ch=esc(show(text[i])), st=a>0?` style="background:rgba(255,120,0,${(0.12+0.88*a).toFixed(2)})"`:'';
    s+=i===at?`<b${st}>${ch}</b>`:`<span${st}>${ch}</span>`;
  }
  return `<div class="spb-ctx" title="activation ${value}">${s}</div>`;
}
function chars(rows){return '<table>'+rows.map(r=>`<tr><td class="spb-ctx">${esc(show(r[0]))}</td><td>${r[1]>0?'+':''}${r[1]}</td></tr>`).join('')+'</table>';}
function render(u){
  current=u;
  [...list.children].forEach(li=>li.classList.toggle('on',li.dataset.key===u.kind+u.index));
  let h=`<div class="spb-title">${label(u)}</div><div class="spb-meta">fires on ${(100*u.density).toPrecision(2)} % of the ${data.chars.toLocaleString('en')} characters read; largest activation ${u.max_activation}</div>`;
  if(u.rule) h+=`<div class="spb-meta">Rule learned on half the text: <i>${esc(u.rule)}</i>`+(u.f1===null?' (too few strong activations to score)':`, F1 ${u.f1} on the other half`)+'</div>';
  h+='<div class="spb-h">Top activations</div>'+(u.top.length?u.top.map(ctx).join(''):'<p>It never fired on this text.</p>');
  for(const [name,cs] of u.samples) if(cs.length) h+=`<div class="spb-h">Activations ${name}</div>`+cs.map(ctx).join('');
  h+=`<div class="spb-cols"><div><div class="spb-h">Promotes</div>${chars(u.promotes)}</div><div><div class="spb-h">Suppresses</div>${chars(u.suppresses)}</div>`;
  h+='<div><div class="spb-h">Nearest '+NAMES[u.kind].split(' ')[1]+'</div>'+u.nearest.map(n=>`<span class="spb-near" data-i="${n[0]}">${n[0]}</span> (${n[1]})`).join('<br>')+'</div></div>';
  card.innerHTML=h;
  card.querySelectorAll('.spb-near').forEach(el=>el.onclick=()=>{q.value=el.dataset.i;filter();});
}
function matches(u,t){
  if(!t) return true;
  if(/^\d+$/.test(t)) return String(u.index)===t;
  return (u.rule||'').toLowerCase().includes(t)||u.top.some(c=>c[0].toLowerCase().includes(t));
}
function filter(){
  const t=q.value.trim().toLowerCase();
  const shown=units.filter(u=>u.kind===kind&&matches(u,t));
  if(order.value==='f1') shown.sort((a,b)=>(b.f1===null?-1:b.f1)-(a.f1===null?-1:a.f1));
  list.innerHTML=shown.map(u=>`<li data-key="${u.kind}${u.index}">${label(u)}${u.f1!==null?' · F1 '+u.f1:''}<br><small>${esc(u.rule||'')}</small></li>`).join('');
  [...list.children].forEach((li,i)=>li.onclick=()=>render(shown[i]));
  count.textContent=`${shown.length} of ${units.filter(u=>u.kind===kind).length} ${NAMES[kind]}`;
  if(shown.length&&(!current||!shown.includes(current))) render(shown[0]);
  else if(!shown.length) card.innerHTML='<p>Nothing matches.</p>';
  else render(current);
}
kindsEl.innerHTML=kinds.map(k=>`<button type="button" data-k="${k}">${NAMES[k]}</button>`).join('');
kindsEl.querySelectorAll('button').forEach(b=>b.onclick=()=>{kind=b.dataset.k;current=null;
  kindsEl.querySelectorAll('button').forEach(x=>x.classList.toggle('on',x===b));filter();});
kindsEl.querySelector('button').classList.add('on');
q.addEventListener('input',filter);
order.addEventListener('change',filter);
filter();
})();"""
