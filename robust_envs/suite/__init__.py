"""
The DeepMind Control Suite tasks of Mankowitz et al. (paper 000) as perturbable Gymnasium envs.

Each module holds one domain; models, tasks and action repeats come from the installed ``dm_control``
package. Importing this package does not import dm_control: the env modules do, when an env is made.
"""
