"""added learned positions, a parameter pos_embed.W_pos (N, D_t)

    x̃_i = t_i + W_pos[i]   (W_pos trained with the rest; 'Attention with Markov')
"""

KIND = "added"
USES = ()
RANK = 2
LEARNED = True
