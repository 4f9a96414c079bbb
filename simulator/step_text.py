"""What each step of the forward pass says: its formula and its sentences, keyed by the step's role.

`simulator.graph` builds the steps and looks their words up here, so the model code reads
as a model and the prose can be edited in one place. A text may name sizes of the model
(`{d_head}`, `{window}`, …); `step_text` fills them in from the config.
"""
from __future__ import annotations

from .config import ModelConfig

# role -> (formula, text)
STEP_TEXT: dict[str, tuple[str, str]] = {
    # --- embedding ---
    "embed": ("embed = W_E[token id]",
              "Each token id picks its row of the embedding matrix W_E: the token's starting vector."),
    "pos_sinusoidal": ("PE[p, 2i] = sin(p / 10000^(2i/d)),  PE[p, 2i+1] = cos(p / 10000^(2i/d))",
                       "Attention alone ignores order, so each position adds its own pattern of sines and "
                       "cosines of different wavelengths (Vaswani et al., 2017)."),
    "pos_learned": ("pos = W_pos[position]",
                    "Attention alone ignores order, so each position adds its own learned vector."),
    "embed_pos": ("x = embed + pos",
                  "The token's vector plus its position's vector: the start of the residual stream."),
    "token_type": ("type = W_type[token type]",
                   "Each token also adds the vector of its segment: type 0 for the first sentence, up to and "
                   "including the first [SEP], type 1 after it (BERT, Devlin et al., 2019)."),
    "embed_pos_type": ("x = embed + pos + type",
                       "The token's vector plus its position's vector plus its segment's vector."),
    "embed_norm": ("x = LN(embed + pos + type) = (x − mean) / √(var + ε) · w + b",
                   "BERT normalises the embedding sum before the first block, so every layer starts from "
                   "numbers of mean 0 and spread 1 (ε = {norm_eps})."),
    # --- a Vision Transformer's input (Dosovitskiy et al., 2021) ---
    "patches": ("patch[i] = pixels of square i, row by row, ÷ 16",
                "The image is cut into {patch}×{patch} squares, read row by row like words in a sentence; each "
                "square's {patch_pixels} pixels are laid out in one row (brightness 0 to 1): one patch, one token."),
    "patch_embed": ("embed[i] = patch[i]·W_patch + b_patch",
                    "The patch embedding: one learned matrix turns every flattened patch into a vector of size "
                    "d_model, the way W_E turns a word into one. The same matrix serves every patch."),
    "cls_prepend": ("tokens = [CLS] , embed[0], embed[1], …",
                    "A learned [CLS] vector is put in front of the patches. It belongs to no part of the image: "
                    "its job is to gather, through attention, what the class head needs to decide."),
    "pos_patch": ("pos = W_pos[position]",
                  "Attention alone ignores where a patch sits, so each position ([CLS] and every patch) adds its "
                  "own learned vector. Nothing tells the model the patches form a grid: it learns that."),
    "cls_out": ("cls = LN_final(x)[0]",
                "Only the [CLS] token's final vector is read: after every layer of attention it has gathered "
                "from the patches what matters for the answer."),
    "logits_cls": ("logits = cls·W_U + b_U",
                   "The class head scores each of the {n_classes} classes from the [CLS] vector."),
    "probs_cls": ("probs = softmax(logits / T)",
                  "Softmax turns the class scores into probabilities that sum to 1; the temperature T flattens "
                  "them (T > 1) or sharpens them (T < 1)."),
    # --- norm ---
    "norm": ("(x − mean) / √(var + ε) · w + b",
             "LayerNorm: each token's vector is shifted to mean 0 and scaled to spread 1, then stretched by w "
             "and shifted by b. It keeps the numbers in a steady range whatever the depth."),
    # --- attention ---
    "q": ("q = x·W_Q + b_Q",
          "Queries: for each token, each head projects the vector into a small question vector of size "
          "d_head = {d_head}: what is this token looking for?"),
    "q_cross": ("q = x·W_Q + b_Q",
                "Queries: for the decoder's tokens, each head projects the vector into a small question vector "
                "of size d_head = {d_head}: what is this token looking for?"),
    "k": ("k = x·W_K + b_K",
          "Keys: each head projects every token into a key: what does it offer to a query that matches it?"),
    "k_cross": ("k = enc·W_K + b_K  (enc: the encoder output)",
                "Keys: each head projects every encoder output into a key: what does it offer to a query that "
                "matches it?"),
    "v": ("v = x·W_V + b_V", "Values: what each token hands over when a query attends to it."),
    "v_cross": ("v = enc·W_V + b_V  (enc: the encoder output)",
                "Values: what each encoder position hands over when a query attends to it."),
    "rot_q": ("q′ = rotate(q, p·θ)",
              "Rotary encoding: each pair of query dimensions is rotated by an angle proportional to the "
              "token's position, so q·k depends on how far apart two tokens are."),
    "rot_k": ("k′ = rotate(k, p·θ)", "The keys are rotated the same way, each by its own position's angle."),
    "scores": ("scores = Q·Kᵀ",
               "Every query is compared with every key by a dot product: a large score means the query's "
               "question matches what that key offers. One grid per head."),
    "scaled": ("scaled = scores ÷ √d_head = scores ÷ √{d_head}",
               "Dot products of longer vectors grow larger; dividing by √d_head keeps the scores in a range "
               "where softmax does not saturate (Vaswani et al., 2017)."),
    "mask_causal": ("masked = scaled, with hidden pairs set to −∞: {keep}",
                    "Causal mask: a token may not look at later tokens, so those scores become −∞ (weight 0 "
                    "after softmax). This is what lets a decoder predict the next token."),
    "mask_window": ("masked = scaled, with hidden pairs set to −∞: {keep}",
                    "Window mask (sparse attention): each token sees only the {window} most recent tokens, "
                    "itself included; the rest become −∞. The cost grows with n·window, not n²."),
    "mask_window-full": ("masked = scaled, with hidden pairs set to −∞: {keep}",
                         "Window mask (sparse attention): each token sees only tokens fewer than {window} "
                         "positions away; the rest become −∞."),
    "mask_full": ("masked = scaled (nothing is hidden)",
                  "Full attention: nothing is masked, every token sees every token, before and after it."),
    "mask_full_future": ("masked = scaled (nothing is hidden: this decoder can see the future)",
                         "Warning: this decoder can see the future. Nothing is masked, so each token also "
                         "sees the token it should predict and learns to copy it: a tiny training loss, but "
                         "nothing to copy when it writes, so its text is garbage."),
    "mask_full_cross": ("masked = scaled (nothing is hidden)",
                        "Full attention: nothing is masked, every decoder token sees every encoder position."),
    "mask_strided": ("masked = scaled, with hidden pairs set to −∞: {keep}",
                     "Strided mask (Child et al., 2019): each token sees its {window} most recent tokens and the "
                     "tokens a multiple of {stride} back; later ones are hidden. Two layers reach any token."),
    "mask_strided-full": ("masked = scaled, with hidden pairs set to −∞: {keep}",
                          "Strided mask (Child et al., 2019): each token sees the tokens fewer than {window} away "
                          "and those a multiple of {stride} away, on both sides. Two layers reach any token."),
    "mask_global": ("masked = scaled, with hidden pairs set to −∞: {keep}",
                    "Global + local mask (Longformer, Beltagy et al., 2020): the {window} most recent tokens plus "
                    "the first n_global = {n_global}, which every token sees. The cost grows with n, not n²."),
    "mask_global-full": ("masked = scaled, with hidden pairs set to −∞: {keep}",
                         "Global + local mask (Longformer, Beltagy et al., 2020): tokens fewer than {window} away, "
                         "plus the first n_global = {n_global}, which see and are seen by all. Cost ∝ n, not n²."),
    "mask_bigbird": ("masked = scaled, with hidden pairs set to −∞: {keep}",
                     "BigBird mask (Zaheer et al., 2020): the {window} most recent tokens, {n_global} global and "
                     "{n_random} random earlier keys per query, seeded with ({random_seed}, query): the same every "
                     "run."),
    "mask_bigbird-full": ("masked = scaled, with hidden pairs set to −∞: {keep}",
                          "BigBird mask (Zaheer et al., 2020): tokens fewer than {window} away, {n_global} global "
                          "and {n_random} random keys per query, seeded with ({random_seed}, query): the same "
                          "every run."),
    "pattern": ("pattern = softmax(masked) along each row",
                "Softmax turns each query's row of scores into weights that are positive and sum to 1: how much "
                "each query token attends to each key."),
    "pattern_full": ("pattern = softmax(scaled) along each row (nothing is masked)",
                     "Softmax turns each query's row of scores into weights that are positive and sum to 1: how "
                     "much each query token attends to each key. Every key is allowed."),
    "z": ("z = pattern·V",
          "Each head's output: a weighted average of the value vectors, using the attention weights of that "
          "query's row."),
    # --- linear attention (Katharopoulos et al., 2020) ---
    "phi_q": ("φ(q) = elu(q) + 1",
              "Linear attention (Katharopoulos et al., 2020) replaces softmax(q·k) by φ(q)·φ(k); φ(x) = elu(x) + 1 "
              "(x + 1 above 0, eˣ below) keeps every number positive."),
    "phi_k": ("φ(k) = elu(k) + 1", "The same feature map on the keys."),
    "kv_state": ("S_i = Σ_j≤i φ(k_j)·v_jᵀ   (row i: S_i's d_head × d_head entries)",
                 "The running sum S of outer products φ(k_j)·v_jᵀ. Row i is the state after tokens 0…i: a "
                 "recurrent network's memory, {d_head}×{d_head} numbers however long the input."),
    "kv_state-full": ("S = Σ_j φ(k_j)·v_jᵀ   (each row: S's d_head × d_head entries)",
                      "The sum S of outer products φ(k_j)·v_jᵀ over every token: an encoder reads the whole input, "
                      "so every row holds the same total."),
    "k_sum": ("z_i = Σ_j≤i φ(k_j)",
              "The running sum z of the keys' features: it normalises the output as softmax's denominator does."),
    "k_sum-full": ("z = Σ_j φ(k_j)",
                   "The sum z of every key's features: it normalises the output as softmax's denominator does."),
    "linear_z": ("out_i = φ(q_i)·S_i ÷ φ(q_i)·z_i",
                 "Each head's output: the query's features read the state S, divided by their match with z. No "
                 "n×n grid is formed: n·d_head² work per head, not n²·d_head."),
    "linear_weights": ("A_ij = φ(q_i)·φ(k_j) ÷ Σ_j′≤i φ(q_i)·φ(k_j′)",
                       "For comparison only: the same numbers as weights over the keys, an n×n grid per head (rows "
                       "sum to 1, later keys 0), as softmax attention would form it."),
    "linear_weights-full": ("A_ij = φ(q_i)·φ(k_j) ÷ Σ_j′ φ(q_i)·φ(k_j′)",
                            "For comparison only: the same numbers as weights over the keys, an n×n grid per head "
                            "(rows sum to 1), as softmax attention would form it."),
    "z_quadratic": ("z = A·V (equals out_i above)",
                    "The weights times V give exactly the recurrent output: only the order of the products differs, "
                    "and with it the cost."),
    "concat": ("concat = [z_head0 | z_head1 | …]",
               "Each head worked in parallel with its own view; the heads' outputs are placed side by side "
               "into one vector of size n_heads × d_head = {n_heads}×{d_head} = {d_concat}."),
    "attn_out": ("out = concat·W_O + b_O",
                 "The output projection W_O mixes the heads' results and maps them back to d_model, ready to "
                 "be added to the residual stream."),
    # --- MLP ---
    "mlp_pre": ("pre = x·W_in + b_in",
                "The MLP works on each token separately: first it expands the vector to d_mlp = {d_mlp} "
                "features."),
    "mlp_post_relu": ("post = ReLU(pre) = max(pre, 0)",
                      "The non-linearity: without it the whole network would collapse into a single matrix "
                      "product."),
    "mlp_post_gelu": ("post = GELU(pre) ≈ ½·pre·(1 + tanh(√(2/π)(pre + 0.044715·pre³)))",
                      "The non-linearity: without it the whole network would collapse into a single matrix "
                      "product."),
    "mlp_post_gelu_exact": ("post = GELU(pre) = ½·pre·(1 + erf(pre / √2))",
                            "The non-linearity, in its exact form: each feature is multiplied by the chance that "
                            "a standard normal number is below it, Φ(pre). Without it the whole network would "
                            "collapse into a single matrix product."),
    "mlp_out": ("mlp_out = post·W_out + b_out", "The MLP projects its features back to d_model."),
    # --- the residual stream ---
    "resid": ("resid = stream + sublayer output",
              "The residual connection: the sublayer's output is added to what came in, so information can "
              "flow past the sublayer unchanged."),
    "resid_sum": ("sum = stream + sublayer output",
                  "The residual connection adds the sublayer's output to its input; post-LN then normalises "
                  "the sum."),
    "depth_logits": ("logit_i = w · RMSNorm(v_i)",
                     "Scores over depth: a learned pseudo-query w is compared with each of the {n_sources} "
                     "earlier outputs (RMS-normalised), for every token, just as a query is compared with keys."),
    "depth_weights": ("α_i = softmax over sources i of logit_i",
                      "Softmax over depth: per token, the weights given to the earlier outputs are positive "
                      "and sum to 1. With w = 0 every source gets 1/n."),
    "depth_mixed": ("h = Σ_i α_i · v_i",
                    "The sublayer's input is the weighted mix of earlier outputs, instead of their plain sum."),
    "dwa": ("Y = Σ_j α_j · X_j",
            "DenseFormer's depth-weighted average: the next block reads a learned weighted sum of the "
            "embedding and every earlier block's output, not just the last one (Pagliardini et al., 2024)."),
    # --- read-out ---
    "logits": ("logits = x·W_U + b_U", "The unembedding scores every token of the vocabulary as the next token."),
    "logits_tied": ("logits = x·W_Eᵀ + b_U",
                    "The read-out is tied to the embedding: each token's score is the dot product of the final "
                    "vector with that token's own embedding row, so no separate W_U is stored."),
    "mlm_dense": ("h = x·W_dense + b_dense",
                  "The masked-LM head first mixes the final vector once more with a square dense layer."),
    "mlm_act": ("h = GELU(h)", "The activation of the masked-LM head, as in the MLP."),
    "mlm_norm": ("h = LN(GELU(h))",
                 "Then the activation and a LayerNorm, before every vocabulary token is scored against h."),
    "probs": ("probs = softmax(logits / T)",
              "Softmax turns the scores into next-token probabilities; the temperature T flattens them (T > 1) "
              "or sharpens them (T < 1)."),
}


def step_text(key: str, cfg: ModelConfig, **facts) -> tuple[str, str]:
    """The (formula, text) of the step `key`, with the model's sizes (and `facts`) filled in."""
    sizes = {"d_head": cfg.d_head, "d_mlp": cfg.d_mlp, "n_heads": cfg.n_heads, "window": cfg.window,
             "d_concat": cfg.n_heads * cfg.d_head, "patch": cfg.patch, "patch_pixels": cfg.patch_pixels,
             "n_classes": cfg.n_classes, "norm_eps": cfg.norm_eps, **facts}
    formula, text = STEP_TEXT[key]
    return formula.format(**sizes), text.format(**sizes)


__all__ = ["STEP_TEXT", "step_text"]
