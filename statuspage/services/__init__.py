"""The verbs of status pages, split by concept: components, updates (and templates),
subscribers, maintenance. Import from the submodules."""
