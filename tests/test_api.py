"""The names learners, the README and outside checks use: they keep working across reshapes."""

import inspect

import superpos_lib as sp


def test_the_top_level_names():
    for name in ("train_toy_models", "fit_toy_models", "ToyModel", "ToyModelConfig", "TrainConfig", "ToyModels",
                 "evaluate_loss", "setup_notebook", "get_device", "importance_decay", "log_densities", "generate_batch",
                 "FeatureGroups"):
        assert hasattr(sp, name), name
    params = inspect.signature(sp.train_toy_models).parameters
    assert list(params)[:4] == ["n_features", "d_hidden", "feature_probability", "importance"]
    assert {"n_inst", "relu", "steps", "seed", "device", "groups"} <= set(params)


def test_metrics_phases_and_sae_names():
    for name in ("feature_norms", "superposition", "feature_dimensionality", "n_represented", "angular_gaps",
                 "dense_optimal_loss", "loss_decomposition", "pairwise_interference", "gram"):
        assert callable(getattr(sp.metrics, name)), name
    for name in ("candidate_losses", "analytic_phase", "phase_boundary", "train_phase_grid", "one_hot_loss",
                 "optimal_kgon", "train_one_hot", "kgon_visits", "SOLUTIONS", "SUPERPOSED",
                 "exact_optimum", "exact_loss", "ExactOptimum", "level_dwell", "Dwell"):
        assert hasattr(sp.phases, name), name
    for name in ("FRACTIONS", "ideal_structure", "regular_polygon", "tegum_product", "count_near", "uniform_sweep",
                 "UniformSweep", "strong_connections", "components", "component_order", "cosine_similarity",
                 "one_feature_sweep", "within_group_cosines", "plot_dimensionality_sweep", "plot_cosine_blocks",
                 "plot_strong_graph", "plot_configuration_losses", "polytope_viewer"):
        assert hasattr(sp.geometry, name), name
    for name in ("AbsoluteValueModel", "AbsoluteValueModels", "train_absolute_value", "computed_sides",
                 "feature_response", "primary_neurons", "find_asymmetric_motifs", "AsymmetricMotif",
                 "computation_sweep", "ComputationSweep", "relu_output_min_perturbation", "min_perturbation",
                 "plot_responses", "plot_sides_vs_density", "plot_motif", "plot_vulnerability", "COMPUTATION_TRAINING"):
        assert hasattr(sp.computation, name), name
    for name in ("finite_datasets", "FiniteDataModel", "double_descent", "DoubleDescent", "test_loss", "regimes",
                 "Regimes", "example_dimensionality", "feature_dims", "dimension_owners", "plot_hidden_vectors",
                 "plot_double_descent", "plot_dimensionality", "plot_memorization_sweep", "MEMORIZATION_TRAINING",
                 "N_FEATURES", "DENSITY", "SIZES"):
        assert hasattr(sp.memorization, name), name
    for name in ("expected_loss", "with_expected_loss", "active_count_probabilities"):
        assert callable(getattr(sp.superposition, name)), name
    for name in ("train_sae", "train_saes", "mmcs", "matched_mmcs", "evaluate", "SAEConfig", "SAE", "KINDS"):
        assert hasattr(sp.sae, name), name
    assert list(inspect.signature(sp.sae.train_sae).parameters)[:2] == ["acts", "d_sae"]
    assert list(inspect.signature(sp.sae.mmcs).parameters) == ["true_directions", "W_dec"]


def test_every_explorer_as_widgets_name():
    for name in ("SuperpositionExplorer", "NeuronExplorer", "CompositionExplorer", "DecompositionExplorer",
                 "PhaseExplorer", "GeometryExplorer", "ComputationExplorer", "MemorizationExplorer", "SAEExplorer"):
        assert getattr(sp.widgets, name) in sp.widgets.EXPLORERS, name


def test_exercise_names():
    ex = sp.exercises
    assert callable(ex.check) and callable(ex.stub_function) and issubclass(ex.ExerciseFailed, AssertionError)
    for name in ("show", "learner_notebook", "solved_notebook", "write_learner_notebooks"):
        assert callable(getattr(ex, name)), name
    for name in ("cosine_similarities", "analogy", "ppmi", "in_superposition", "random_rotation", "neuron_forward",
                 "basis_alignment", "neuron_monosemanticity", "sparse_batch", "toy_forward", "weighted_mse",
                 "superposition", "feature_dimensionality", "dimensions_per_feature", "dense_optimal_loss",
                 "loss_decomposition", "pairwise_interference", "candidate_losses", "analytic_phase",
                 "classify_extra_feature", "regular_kgon", "one_hot_loss", "sae_forward", "l1_objective",
                 "topk_activation", "mmcs", "matched_mmcs", "fvu", "dead_latents", "square_antiprism",
                 "tegum_product", "strong_connections", "anticorrelated_present", "abs_two_neurons", "sides_computed",
                 "cancel_push", "relu_output_attack"):
        assert name in ex.EXERCISES, name
    fixed = {"toy_forward": ["W", "b", "x"], "mmcs": ["true_directions", "W_dec"], "feature_dimensionality": ["W"]}
    for name, params in fixed.items():
        assert list(inspect.signature(ex.EXERCISES[name].solution).parameters) == params, name


def test_teaching_names():
    assert callable(sp.ui.export_figures) and callable(sp.ui.figures_in)
    assert callable(sp.sae.rescale_factor)
