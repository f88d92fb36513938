"""`make test-fast` leaves out what needs Chromium or the real agent tools: the markers that select them."""
import types

from tests import conftest


def test_a_module_using_the_agent_tool_cache_is_marked_agents():
    from tests.integrations import tools  # imported here: a module-level import would mark this module too

    by_function = types.ModuleType("uses_function")
    by_function.agent_tool = tools.agent_tool
    by_module = types.ModuleType("uses_module")
    by_module.tools = tools
    assert conftest.runs_agent_tools(by_function) and conftest.runs_agent_tools(by_module)
    assert not conftest.runs_agent_tools(types.ModuleType("plain")) and not conftest.runs_agent_tools(None)


def test_the_real_agent_modules_are_left_out_of_the_fast_suite():
    import tests.integrations.test_agents_real as agents_real
    import tests.integrations.test_real_agent_clis as agent_clis
    assert conftest.runs_agent_tools(agents_real) and conftest.runs_agent_tools(agent_clis)
