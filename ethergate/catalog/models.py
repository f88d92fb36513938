"""Providers, models, their routes and list prices (micro-units per million tokens)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow


class Provider(db.Model):
    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    base_url: Mapped[str] = mapped_column(String(255))
    key_env: Mapped[str] = mapped_column(String(64))
    base_url_env: Mapped[str | None] = mapped_column(String(64))
    docs_url: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)


class Model(db.Model):
    __tablename__ = "models"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    description: Mapped[str | None] = mapped_column(Text)
    context_window: Mapped[int]
    max_output_tokens: Mapped[int]
    default_max_tokens: Mapped[int | None]
    capabilities: Mapped[list] = mapped_column(db.JSON, default=list)
    fixed_temperature: Mapped[float | None]
    max_n: Mapped[int | None]
    unsupported_params: Mapped[list] = mapped_column(db.JSON, default=list)
    upstream_params: Mapped[dict | None] = mapped_column(db.JSON)
    released: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    routes: Mapped[list[Route]] = relationship(
        back_populates="model", order_by="Route.priority", cascade="all, delete-orphan")
    prices: Mapped[list[Price]] = relationship(back_populates="model", cascade="all, delete-orphan")
    aliases: Mapped[list[ModelAlias]] = relationship(back_populates="model", cascade="all, delete-orphan")

    @property
    def provider_id(self) -> str:
        return self.id.split("/", 1)[0]

    def has(self, capability: str) -> bool:
        return capability in (self.capabilities or [])


class ModelAlias(db.Model):
    __tablename__ = "model_aliases"

    alias: Mapped[str] = mapped_column(String(128), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)

    model: Mapped[Model] = relationship(back_populates="aliases")


class Route(db.Model):
    __tablename__ = "routes"
    __table_args__ = (UniqueConstraint("model_id", "provider_id", "upstream_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"))
    upstream_model: Mapped[str] = mapped_column(String(128))
    priority: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True)

    model: Mapped[Model] = relationship(back_populates="routes")


class Price(db.Model):
    """One price line: kind 'base', 'tier' (prompt tokens <= up_to; NULL = no bound) or 'window'."""
    __tablename__ = "prices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    up_to: Mapped[int | None]
    window_name: Mapped[str | None] = mapped_column(String(32))
    window_start: Mapped[str | None] = mapped_column(String(5))
    window_end: Mapped[str | None] = mapped_column(String(5))
    window_tz: Mapped[str | None] = mapped_column(String(64))
    window_days: Mapped[str | None] = mapped_column(String(32))       # "mon,tue,wed,thu,fri"; NULL = every day
    window_calendar: Mapped[str | None] = mapped_column(String(32))   # a HolidayCalendar id
    input_micro: Mapped[int] = mapped_column(BigInteger)
    cached_input_micro: Mapped[int] = mapped_column(BigInteger)
    output_micro: Mapped[int] = mapped_column(BigInteger)

    model: Mapped[Model] = relationship(back_populates="prices")


class HolidayCalendar(db.Model):
    """A dated list of public holidays and make-up working days that price windows can follow."""
    __tablename__ = "holiday_calendars"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    covers: Mapped[list] = mapped_column(db.JSON, default=list)   # the years whose schedule is listed in full

    days: Mapped[list[CalendarDay]] = relationship(back_populates="calendar", cascade="all, delete-orphan")


class CalendarDay(db.Model):
    """kind 'holiday' (no working day, whatever the weekday) or 'workday' (a make-up working day)."""
    __tablename__ = "calendar_days"

    calendar_id: Mapped[str] = mapped_column(ForeignKey("holiday_calendars.id", ondelete="CASCADE"),
                                             primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))

    calendar: Mapped[HolidayCalendar] = relationship(back_populates="days")
