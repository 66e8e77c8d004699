"""Paradigm generators shared by models (training diets) and scenarios (test displays and sequences).

Each module generates the stimuli of one paradigm from an explicit PRNG key and knows no model and no
scenario; import the module you need, for example ``from cogsim.tasks import <module>``.
"""
