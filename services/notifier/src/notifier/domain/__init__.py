"""Pure notifier rules: rules and their resolution, crossings, templates, delivery policy."""
