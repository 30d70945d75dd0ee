"""The one interface every OMS adapter implements.

An adapter is thin and exact. It does four things:

1. read the platform's locations and inventory into a :class:`Catalog`
   (a :class:`~models.Network` plus :class:`~models.Inventory`);
2. read the platform's order payload into a :class:`Bound` order (a
   :class:`~models.Order` plus what is needed to answer in the platform's
   terms);
3. let the :class:`~sourcewise.engine.router.Router` decide;
4. render the :class:`~models.Decision` in the platform's write-back shape.

Steps 1 and 2 validate everything before anything is built, and report
every problem in one :class:`AdapterError` whose fields are JSON paths into
the payload (``order.line_items[1].quantity``). Nothing is reserved when
parsing fails, so a malformed payload never changes stock.

Platform modules implement :class:`Adapter`'s abstract methods and declare
their order fields once (:mod:`~sourcewise.engine.adapters.fields`); the
pieces they share live beside this module:

=============  ================================================================
``reader``     the careful reader (:class:`Reader`, :class:`Shape`) and :class:`AdapterError`
``fields``     field declarations, from which both the careful Shapes and the fast schemas come
``fastpath``   msgspec conversion of plain payloads into the generated schemas
``records``    the neutral values (:class:`OrderIn`, :class:`LineIn`, ...), :class:`Catalog`, :class:`Bound`
``binding``    catalog building (config overrides, geocoding) and binding orders to it
``render``     the response pieces every platform shares
``session``    :class:`Session` and :func:`route_payload`
=============  ================================================================
"""

from __future__ import annotations

from abc import ABC
from abc import abstractmethod
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import ClassVar

import msgspec

from sourcewise.engine.adapters.binding import bind_order
from sourcewise.engine.adapters.binding import build_catalog
from sourcewise.engine.adapters.fastpath import fast_convert
from sourcewise.engine.adapters.fastpath import fast_plain
from sourcewise.engine.adapters.reader import AdapterError
from sourcewise.engine.adapters.reader import Reader
from sourcewise.engine.adapters.reader import read_json
from sourcewise.engine.adapters.records import Bound
from sourcewise.engine.adapters.records import Catalog
from sourcewise.engine.adapters.records import LocationIn
from sourcewise.engine.adapters.records import OrderIn
from sourcewise.engine.adapters.records import StockIn
from sourcewise.engine.adapters.render import AtpLookup
from sourcewise.models.decision import Decision

__all__ = ["Adapter", "AdapterError", "Bound", "Catalog"]


class Adapter(ABC):
    """One OMS platform: read its payloads, write its responses.

    Subclasses implement :meth:`read_catalog`, :meth:`read_order`,
    :meth:`check_order` and :meth:`render`; everything else is shared.
    """

    name: ClassVar[str]

    # ---------------------------------------------------------------- to implement
    @abstractmethod
    def read_catalog(self, locations: Any, inventory: Any, reader: Reader
                     ) -> tuple[list[LocationIn], list[StockIn], dict[str, Any]]:
        """Read locations and stock (recording problems in ``reader``); return platform extras too."""

    @abstractmethod
    def read_order(self, payload: Any, reader: Reader) -> OrderIn | None:
        """Read an order payload structurally; references are checked in :meth:`check_order`."""

    def check_order(self, order_in: OrderIn, catalog: Catalog, reader: Reader) -> OrderIn:
        """Check the order's references against the catalog; may return an amended order."""
        return order_in

    #: The msgspec schemas of a plain payload (the fields the fast path reads, typed as the
    #: careful reader accepts them), tried in order; empty for an adapter with no fast path.
    fast_schemas: ClassVar[tuple[type[msgspec.Struct], ...]] = ()

    def fast_order(self, payload: Any, catalog: Catalog) -> Bound | None:
        """The :class:`Bound` for a payload with nothing unusual in it, or ``None``.

        The per-order fast path: the payload converted to the first of
        :attr:`fast_schemas` it fits, then :meth:`fast_bind`. Together they
        must return exactly what :meth:`read_order`, :meth:`check_order` and
        :func:`bind_order` return together, and ``None`` (never raise) for
        anything else, so that :meth:`parse_order` falls back to them and
        every malformed payload gets the careful path's :class:`AdapterError`.
        """
        if type(payload) is not dict:
            return None
        for schema in self.fast_schemas:
            plain = fast_convert(payload, schema)
            if plain is not None:
                return self.fast_bind(plain, catalog)
        return None

    def fast_order_json(self, data: bytes | str, catalog: Catalog) -> Bound | None:
        """:meth:`fast_order` of a payload still in JSON text: decoded straight into the
        schema, with no dict built; ``None`` when the text does not fit one."""
        for decoder in self._fast_decoders():
            try:
                plain = fast_plain(decoder.decode(data))
            except (msgspec.MsgspecError, UnicodeEncodeError, RecursionError):
                # not JSON msgspec takes (NaN, a lone surrogate, str text holding one, deep nesting)
                # or not plain: the careful path decides
                continue
            if plain is not None:  # as fast_order: a schema with a blank string lets the next one try
                return self.fast_bind(plain, catalog)
        return None

    @classmethod
    def _fast_decoders(cls) -> tuple[msgspec.json.Decoder, ...]:
        decoders = cls.__dict__.get("_decoders")
        if decoders is None:
            decoders = tuple(msgspec.json.Decoder(schema) for schema in cls.fast_schemas)
            cls._decoders = decoders  # type: ignore[attr-defined]
        return decoders

    def fast_bind(self, plain: Any, catalog: Catalog) -> Bound | None:
        """The :class:`Bound` of a payload decoded into one of :attr:`fast_schemas`, or ``None``
        when it holds anything the fast path does not decide (see :meth:`fast_order`)."""
        return None

    @abstractmethod
    def render(self, bound: Bound, decision: Decision | None, atp: AtpLookup | None = None) -> dict[str, Any]:
        """The platform's write-back shape for a decision.

        ``atp`` answers stock levels for shapes that report them (Magento's
        ``qty_available``): the session's router, whose stock already
        excludes what ``decision`` reserved; without it, the catalog's own
        inventory as loaded.
        """

    def render_reroute(self, bound: Bound, before: Decision | None, after: Decision, rejected: str,
                       lines: Sequence[str] | None, atp: AtpLookup | None = None, **context: Any) -> dict[str, Any]:
        """Response to a location's rejection; by default the whole new decision."""
        out = self.render(bound, after, atp)
        out.setdefault("sourcewise", {})["rerouted_from"] = self.location_raw(bound, rejected)
        return out

    # ---------------------------------------------------------------- ids
    def key_of(self, raw: Any) -> str:
        """Canonical string form of a platform id (for matching across documents)."""
        return str(raw)

    @staticmethod
    def location_raw(bound: Bound, node_id: str) -> Any:
        """The platform's own id for a node, exactly as it appeared in the locations payload."""
        loc = bound.catalog.locations.get(node_id)
        return loc.raw_id if loc is not None else node_id

    def line_keys(self, bound: Bound, raw: Any) -> list[str]:
        """Routed line ids a platform line reference stands for (empty when none)."""
        key = self.key_of(raw)
        return [ln.line_id for ln in bound.source.lines if ln.line_id == key or self.key_of(ln.raw_id) == key]

    # ---------------------------------------------------------------- shared pipeline
    def parse_catalog(self, locations: Any, inventory: Any, *, config: Mapping[str, Any] | None = None,
                      sku_attrs: Mapping[str, Mapping[str, Any]] | None = None,
                      reader: Reader | None = None) -> Catalog:
        """Locations + inventory payloads -> :class:`Catalog`.

        Raises
        ------
        AdapterError
            Every problem in both documents (and the config), together.
        """
        r = reader or Reader(self.name, "locations")
        locs, stock, extra = self.read_catalog(locations, inventory, r)
        return build_catalog(self.name, locs, stock, r, config=config, sku_attrs=sku_attrs,
                             key_of=self.key_of, extra=extra, notes=extra.pop("notes", ()))

    def parse_order(self, payload: Any, catalog: Catalog) -> Bound:
        """Order payload -> :class:`Bound` against ``catalog``.

        Raises
        ------
        AdapterError
            Every problem found; nothing is built.
        """
        bound = self.fast_order(payload, catalog)
        if bound is not None:
            return bound
        return self.parse_order_careful(payload, catalog)

    def parse_order_json(self, data: bytes | str, catalog: Catalog) -> Bound:
        """:meth:`parse_order` of a payload as it arrives, in JSON text (bytes or str).

        A plain payload is decoded straight into the fast path's schema;
        anything else is decoded with :func:`json.loads` and read by the
        careful path, so the answer is always :meth:`parse_order`'s of the
        decoded document.

        Raises
        ------
        AdapterError
            When ``data`` is not text, the text is not JSON (or nests too deeply,
            or holds an integer of more digits than Python converts), or for
            every problem in the payload.
        """
        if not isinstance(data, bytes | bytearray | str):
            # before the fast path, which would raise msgspec's TypeError
            r = Reader(self.name, "order")
            r.fail("$", f"must be JSON text (bytes or str), got {type(data).__name__}")
            r.raise_if_any()
        bound = self.fast_order_json(data, catalog)
        if bound is not None:
            return bound
        r = Reader(self.name, "order")
        payload = read_json(data, r)
        r.raise_if_any()
        return self.parse_order_careful(payload, catalog)

    def parse_order_careful(self, payload: Any, catalog: Catalog) -> Bound:
        """:meth:`parse_order` without the fast path: every problem at its JSON path."""
        r = Reader(self.name, "order")
        order_in = self.read_order(payload, r)
        if order_in is not None:
            # cross-references too, so one error lists structural and reference problems
            order_in = self.check_order(order_in, catalog, r)
        r.raise_if_any()
        assert order_in is not None
        return bind_order(order_in, catalog, r)

    def parse(self, order: Any, locations: Any, inventory: Any, *, config: Mapping[str, Any] | None = None
              ) -> tuple[Catalog, Bound]:
        """All three documents at once; problems in all of them are reported together.

        SKU prices and weights found in the order (Shopify ``price`` and
        ``grams``, commercetools ``price.value``) are given to the catalog,
        so vendor fees and weight surcharges see them.
        """
        r = Reader(self.name, "order")
        order_in = self.read_order(order, r)
        attrs: dict[str, dict[str, Any]] = {}
        if order_in is not None:
            for ln in order_in.lines:
                a = attrs.setdefault(ln.sku, {})
                if ln.price is not None:
                    a["price"] = float(ln.price)
                if ln.weight_kg is not None:
                    a["weight_kg"] = ln.weight_kg
        catalog_reader = Reader(self.name, "locations")
        try:
            catalog = self.parse_catalog(locations, inventory, config=config, sku_attrs=attrs,
                                         reader=catalog_reader)
        except AdapterError:
            catalog = None
        return self.check_and_bind(r, order_in, catalog, catalog_reader)

    def check_and_bind(self, r: Reader, order_in: OrderIn | None, catalog: Catalog | None,
                catalog_reader: Reader) -> tuple[Catalog, Bound]:
        """Check the order against the catalog and raise every problem of every document together."""
        if order_in is not None and catalog is not None:
            order_in = self.check_order(order_in, catalog, r)
        r.problems.extend(catalog_reader.problems)
        r.raise_if_any()
        assert order_in is not None and catalog is not None
        return catalog, bind_order(order_in, catalog, r)
