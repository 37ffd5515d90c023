"""The Discord settings: the operator role is an id, and counts only in the guilds listed in DISCORD_GUILD_IDS."""

import pytest

from bot.settings import ConfigError, Settings

GUILD = "810000000000000001"
ROLE = "830000000000000555"


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_c1_operator_role_without_guild_ids_is_a_config_error():
    with pytest.raises(ConfigError, match="DISCORD_OPERATOR_ROLE needs DISCORD_GUILD_IDS"):
        settings(discord_operator_role=ROLE).discord_operator_role_id()


def test_c1_role_name_is_refused_at_start_with_how_to_copy_the_role_id():
    for name in ("Treasurer", "@Treasurer", "2024"):  # a name, even one made of digits, is not a role id
        with pytest.raises(ConfigError) as refused:
            settings(discord_operator_role=name, discord_guild_ids=GUILD).discord_operator_role_id()
        message = str(refused.value)
        assert message.startswith("DISCORD_OPERATOR_ROLE:") and "not a role id" in message
        assert "Developer Mode" in message and "Server Settings → Roles → right-click the role → Copy Role ID" in message


def test_c1_a_guilds_own_id_is_not_an_operator_role():
    with pytest.raises(ConfigError, match="@everyone"):  # the @everyone role has the guild's id: every member
        settings(discord_operator_role=GUILD, discord_guild_ids=GUILD).discord_operator_role_id()


def test_an_operator_role_id_with_its_guild_is_read_as_an_int():
    assert settings(discord_operator_role=f" {ROLE} ", discord_guild_ids=f"{GUILD}, 810000000000000002").discord_operator_role_id() == int(ROLE)
    assert settings(discord_guild_ids=GUILD).discord_operator_role_id() is None
    assert settings().discord_operator_role_id() is None
