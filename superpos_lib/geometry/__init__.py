"""Chapter 6, the geometry of superposition (TMS §6, "The Geometry of Superposition").

How trained toy models share their dimensions: feature dimensionality and the fractions it
sticks to, the uniform-importance sweep, polytopes and their tegum products, what non-uniform
importance does to them, and correlated and anticorrelated features.
"""
