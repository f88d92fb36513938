"""The console's shell, shared by every page: who may see a page (access), page-or-fragment rendering,
htmx response helpers, the navigation, template formats and public links."""
