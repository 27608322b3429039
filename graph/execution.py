"""An execution context that completes plain attributes without graphql-core's machinery.

Why: a page of 100 applications has ~1,300 fields, nearly all of them "basic" Strawberry
fields (plain attributes, no resolver, see graph/types/application.py) of a scalar or enum
type. For each one graphql-core makes a Path, Strawberry builds a resolve info, then come
the resolver, `complete_value`, `complete_leaf_value` and three awaitable checks: ~40% of the
request's CPU, for a value that is one getattr and one `coerce_output_value` away.

`FastLeafExecutionContext.execute_fields` is graphql-core 3.3's loop, plus a shortcut for a
field that is provably such a read: its resolver is Strawberry's `_get_basic_result` for a
field without resolver, extensions or exception handlers, its type is a leaf or a non-null
leaf, it takes no arguments and no middleware (a schema extension with a `resolve` hook)
is installed. The shortcut reads the attribute as Strawberry's `get_result` does and
coerces it as `complete_leaf_value` does. Whenever the standard path could do anything but
return that coerced value (null for a non-null field, an exception raised or returned, an
awaitable, a null coercion), the field goes through the standard `execute_field`, which
reads it again: errors, paths and null propagation are graphql-core's own.

A basic field of an object type (a connection's `node`, `pageInfo`) takes a second
shortcut: the attribute is read and its sub-selection executed as `complete_object_value`
does, without the resolve info and resolver call, with graphql-core's own error handling for
the field's type; null for a non-null field, an awaitable, an exception or an object type
that checks its values (`is_type_of`) go the standard way. So does a list item of an object
type (a connection's edges): `complete_list_item_value` executes its sub-selection directly
unless it is null, Undefined, an exception or an awaitable.

Measured in process (the ASGI app on a seeded database, CPU per request, 4 runs each): a
page of 100 applications with 12 fields each, 13.0 -> 9.9 ms (-23%); one application with
its job, links and clicks (~15 leaf fields), 7.8 -> 7.4 ms (within the noise). The object
shortcut, later (3 runs each): the page of 100, 7.14 -> 6.78 ms (-5%); the list item
shortcut, 6.42 -> 5.8 ms (-10%).

Within the loop, each grouped field set's plans are looked up once per execution (the 100
nodes of a page share their sets), and a leaf is completed inline when its value is its own
coerced value (a str for String or ID, a bool for Boolean, an int in the 32-bit range for
Int), a null in a nullable field, an enum member, or a plain value whose coercion returns a
plain value (a datetime's isoformat); anything else goes through `complete_leaf_field` as
before. Measured without I/O (the page-of-100 document over prebuilt objects, best of 7
runs of 150): 3.97 -> 3.38 ms per execution.

The loop copies graphql-core 3.3.2's: tests/test_execution.py pins that version, so that an
upgrade brings a look at the copy.
"""

from __future__ import annotations

import datetime
import decimal
import types
import uuid
from typing import TYPE_CHECKING, Any, NamedTuple
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLInt,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    get_nullable_type,
    is_leaf_type,
    is_non_null_type,
)
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from graphql.execution.collect_fields import GroupedFieldSet
    from graphql.pyutils import AwaitableOrValue

# Values of these exact types are neither awaitable nor exceptions: the checks the standard
# path makes on them can be skipped. Anything else (enum members included) is checked.
_PLAIN_TYPES: frozenset[type] = frozenset(
    {
        str,
        int,
        float,
        bool,
        datetime.datetime,
        datetime.date,
        datetime.time,
        decimal.Decimal,
        uuid.UUID,
    }
)


class LeafPlan(NamedTuple):
    """How to complete one basic leaf field: `coerce(read(source, attribute))`."""

    read: Callable[[Any, str], Any]  # Strawberry's default resolver, a getattr
    attribute: str  # the Python attribute name
    coerce: Callable[[Any], Any]  # the leaf type's coerce_output_value
    non_null: bool
    # A value of exactly this type is its own coerced value (a str for String or ID, a bool
    # for Boolean, an int in range for Int), so `coerce` is not called; None: always call it.
    same: type | None = None
    # A Strawberry enum's class, and its members' GraphQL names (what `coerce` answers for
    # each member); None and {} for other types.
    enum_class: type | None = None
    names: Mapping[Any, str] = types.MappingProxyType({})


_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _identity_type(leaf_type: Any) -> type | None:
    """The Python type that the built-in scalar `leaf_type` serializes as itself."""
    if leaf_type is GraphQLString or leaf_type is GraphQLID:
        # serialize_string / serialize_id: `if isinstance(value, str): return value`
        return str
    if leaf_type is GraphQLBoolean:
        return bool  # serialize_boolean: `if isinstance(value, bool): return value`
    if leaf_type is GraphQLInt:
        return int  # serialize_int: an int in the 32-bit range is itself (checked inline)
    return None


def _enum_names(leaf_type: Any) -> tuple[type | None, Mapping[Any, str]]:
    """A Strawberry enum type's class and member -> name, as its coerce_output_value finds
    them: the first name whose value equals the member's value."""
    wrapped = getattr(leaf_type, "wrapped_cls", None)
    members = getattr(wrapped, "__members__", None)
    if not isinstance(leaf_type, GraphQLEnumType) or not isinstance(wrapped, type) or not members:
        return None, types.MappingProxyType({})
    names: dict[Any, str] = {}
    for member in members.values():
        for name, value in leaf_type.values.items():
            if member.value == value.value:
                names[member] = name
                break
    return wrapped, types.MappingProxyType(names)


def _basic_field(
    schema: GraphQLSchema, parent_type: GraphQLObjectType, name: str
) -> StrawberryField | None:
    """The Strawberry field behind `name` if reading it is a getattr, else None."""
    field_def = schema.get_field(parent_type, name)
    if field_def is None or field_def.args:
        return None
    resolve = field_def.resolve
    # from_resolver gives a basic field (no resolver, no field extensions, no exception
    # handler) the resolver `_get_basic_result`, marked `_is_default`. A field with
    # extensions but no resolver is marked `_is_default` too, hence the name check.
    if (
        resolve is None
        or getattr(resolve, "_is_default", False) is not True
        or getattr(resolve, "__name__", None) != "_get_basic_result"
    ):
        return None
    field = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if (
        not isinstance(field, StrawberryField)
        or not field.is_basic_field
        or type(field).get_result is not StrawberryField.get_result
    ):
        return None
    return field


def leaf_plan(schema: GraphQLSchema, parent_type: GraphQLObjectType, name: str) -> LeafPlan | None:
    """The plan for field `name` of `parent_type`, or None if it must take the standard path."""
    field = _basic_field(schema, parent_type, name)
    if field is None:
        return None
    field_def = schema.get_field(parent_type, name)
    assert field_def is not None
    return_type = field_def.type
    leaf_type = get_nullable_type(return_type)
    if not is_leaf_type(leaf_type):
        return None
    # StrawberryField.get_result(source, ...) for a field without resolver.
    return LeafPlan(
        field.default_resolver,
        field.python_name,
        leaf_type.coerce_output_value,
        is_non_null_type(return_type),
        _identity_type(leaf_type),
        *_enum_names(leaf_type),
    )


class ObjectPlan(NamedTuple):
    """How to complete one basic field of an object type: read the attribute, then execute
    the sub-selection on it (`complete_object_value` without its resolve info)."""

    read: Callable[[Any, str], Any]
    attribute: str
    object_type: GraphQLObjectType
    return_type: Any  # the field's type: object_type, maybe wrapped in NonNull
    non_null: bool
    # Values of exactly this class (the Strawberry type's) are neither awaitable nor
    # exceptions when the class says so; others are checked as the standard path does.
    plain_class: type | None


def object_plan(
    schema: GraphQLSchema, parent_type: GraphQLObjectType, name: str
) -> ObjectPlan | None:
    """The plan for field `name` if it is a basic field of an object type, else None."""
    field = _basic_field(schema, parent_type, name)
    if field is None:
        return None
    field_def = schema.get_field(parent_type, name)
    assert field_def is not None
    object_type = get_nullable_type(field_def.type)
    # Abstract and list types, and objects that check their values (is_type_of), complete
    # differently: standard path.
    if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of is not None:
        return None
    definition = (object_type.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    origin = getattr(definition, "origin", None)
    plain = (
        origin
        if isinstance(origin, type)
        and not issubclass(origin, BaseException)
        and not hasattr(origin, "__await__")
        else None
    )
    return ObjectPlan(
        field.default_resolver,
        field.python_name,
        object_type,
        field_def.type,
        is_non_null_type(field_def.type),
        plain,
    )


def field_plan(
    schema: GraphQLSchema, parent_type: GraphQLObjectType, name: str
) -> LeafPlan | ObjectPlan | None:
    return leaf_plan(schema, parent_type, name) or object_plan(schema, parent_type, name)


def list_item_object_type(item_type: Any) -> GraphQLObjectType | None:
    """The object type of a list's items (non-null or not), if completing an item is
    executing its sub-selection on it: not for leaves, lists, abstract types or a type with
    `is_type_of`."""
    object_type = get_nullable_type(item_type)
    if isinstance(object_type, GraphQLObjectType) and object_type.is_type_of is None:
        return object_type
    return None


_plain_classes: dict[type, bool] = {}


def plain_class(cls: type) -> bool:
    """Whether values of `cls` are neither awaitable nor exceptions (nor coroutines)."""
    try:
        return _plain_classes[cls]
    except KeyError:
        plain = not issubclass(
            cls, (BaseException, types.CoroutineType, types.GeneratorType)
        ) and not hasattr(cls, "__await__")
        _plain_classes[cls] = plain
        return plain


# Plans per object type, then per field name (None: standard path). Object types are
# hashable by identity; weak keys let a discarded schema go.
_plans: WeakKeyDictionary[GraphQLObjectType, dict[str, LeafPlan | ObjectPlan | None]] = (
    WeakKeyDictionary()
)

_STANDARD = object()  # "take the standard path", as a result of the shortcut

# Per list item type: the object type whose sub-selection completes an item, or None.
_item_types: WeakKeyDictionary[Any, GraphQLObjectType | None] = WeakKeyDictionary()


class FastLeafExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with basic leaf fields completed directly."""

    leaf_fields_completed = 0  # by the shortcut, in all executions: for the tests

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # graphql-core wraps resolvers only when the manager has middleware.
        self.fast_leaves = manager is None or not manager.middlewares
        self._field_sets: dict[tuple[int, GraphQLObjectType], tuple[Any, list[Any]]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if not self.fast_leaves:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        compiled = self._compiled_field_set(parent_type, grouped_field_set)
        value: Any
        # From here on, graphql-core 3.3.2's Executor.execute_fields, plus the shortcut.
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        append_awaitable = awaitable_fields.append
        completed_here = 0
        try:
            for response_name, field_details_list, plan in compiled:
                if plan is not None:
                    if type(plan) is LeafPlan:
                        # Inline, the commonest case: a value that is its own coerced value.
                        # Anything else (an error reading it included) is complete_leaf_field's.
                        if plan.read is getattr:
                            try:
                                value = getattr(source_value, plan.attribute)
                            except Exception:
                                value = _STANDARD
                            kind = type(value)
                            if kind is plan.same and (
                                kind is not int or _INT_MIN <= value <= _INT_MAX
                            ):
                                results[response_name] = value
                                completed_here += 1
                                continue
                            if value is None and not plan.non_null:
                                results[response_name] = None
                                completed_here += 1
                                continue
                            if kind in _PLAIN_TYPES:  # neither awaitable nor an exception
                                try:
                                    value = plan.coerce(value)
                                except Exception:
                                    value = _STANDARD
                                if type(value) in _PLAIN_TYPES:  # not null, not awaitable
                                    results[response_name] = value
                                    completed_here += 1
                                    continue
                        # Never awaitable (complete_leaf_field returns _STANDARD for those).
                        value = self.complete_leaf_field(plan, source_value)
                        if value is not _STANDARD:
                            results[response_name] = value
                            completed_here += 1
                            continue
                    else:
                        value = self.complete_object_field(
                            plan,  # type: ignore[arg-type]
                            source_value,
                            field_details_list,
                            Path(path, response_name, parent_type.name),
                            position_context,
                        )
                        if value is not _STANDARD:
                            results[response_name] = value
                            completed_here += 1
                            if is_awaitable(value):
                                append_awaitable(response_name)
                            continue
                field_path = Path(path, response_name, parent_type.name)
                result = self.execute_field(
                    parent_type, source_value, field_details_list, field_path, position_context
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        append_awaitable(response_name)
        except Exception:
            if awaitable_fields:
                # Ensure that awaitables created by other fields are settled,
                # as they may also fail.
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        finally:
            FastLeafExecutionContext.leaf_fields_completed += completed_here

        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited_results = await gather_with_cancel(
                    *(results[field] for field in awaitable_fields)
                )
                results.update(zip(awaitable_fields, awaited_results, strict=True))
            return results

        return get_results()

    def _compiled_field_set(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> list[tuple[str, Any, LeafPlan | ObjectPlan | None]]:
        """(response name, field details, plan or None) of each field of the set, made once
        per set in this execution: a page's 100 nodes share their sets (graphql-core caches
        the sub-selections it collects), so the plans are looked up once, not 1,300 times."""
        key = (id(grouped_field_set), parent_type)
        found = self._field_sets.get(key)
        if found is not None and found[0] is grouped_field_set:
            return found[1]
        plans = _plans.get(parent_type)
        if plans is None:
            plans = _plans[parent_type] = {}
        compiled: list[tuple[str, Any, LeafPlan | ObjectPlan | None]] = []
        for response_name, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            name = node.name.value
            try:
                plan = plans[name]
            except KeyError:
                plan = plans[name] = field_plan(self.schema, parent_type, name)
            compiled.append((response_name, field_details_list, None if node.arguments else plan))
        # The set is kept with its plans, so its id cannot be reused while the entry lives.
        self._field_sets[key] = (grouped_field_set, compiled)
        return compiled

    def complete_list_item_value(
        self,
        item: Any,
        complete_results: list[Any],
        item_type: Any,
        field_details_list: Any,
        info: Any,
        item_path: Path,
        position_context: Any,
    ) -> bool:
        """graphql-core's, with a shortcut for an item that is a plain object of an object
        type: its sub-selection is executed directly (complete_value's dispatch skipped),
        with graphql-core's error handling for the item type. A connection's 100 edges take
        it. Anything else (null, Undefined, exceptions, awaitables) goes the standard way."""
        try:
            object_type = _item_types[item_type]
        except KeyError:
            object_type = _item_types[item_type] = list_item_object_type(item_type)
        if (
            object_type is None
            or not self.fast_leaves
            or item is None
            or item is Undefined
            or not plain_class(type(item))
        ):
            return super().complete_list_item_value(
                item,
                complete_results,
                item_type,
                field_details_list,
                info,
                item_path,
                position_context,
            )
        try:
            completed = self.collect_and_execute_subfields(
                object_type, field_details_list, item_path, item, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, item_type, field_details_list, item_path)
            complete_results.append(None)
            return False
        if self.is_awaitable(completed):
            complete_results.append(
                self._await_object(completed, item_type, field_details_list, item_path)
            )
            return True
        complete_results.append(completed)
        return False

    def complete_object_field(
        self,
        plan: ObjectPlan,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        """`execute_field` for a basic object field, without the resolve info and resolver
        call; _STANDARD if the value is anything but an object to complete (or null)."""
        try:
            value = plan.read(source, plan.attribute)
        except Exception:  # the standard path raises it again, and reports it
            return _STANDARD
        if value is None:
            return _STANDARD if plan.non_null else None
        if type(value) is not plan.plain_class and (
            self.is_awaitable(value) or isinstance(value, Exception) or value is Undefined
        ):
            return _STANDARD
        # From here as execute_field -> complete_value -> complete_object_value: a non-null
        # object's completion is never null, and errors are handled for the field's type.
        try:
            completed = self.collect_and_execute_subfields(
                plan.object_type, field_details_list, path, value, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, plan.return_type, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._await_object(completed, plan.return_type, field_details_list, path)
        return completed

    async def _await_object(
        self, completed: Any, return_type: Any, field_details_list: Any, path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def complete_leaf_field(self, plan: LeafPlan, source: Any) -> Any:
        """The field's completed value, or _STANDARD if the standard path must decide."""
        try:
            value = plan.read(source, plan.attribute)
            if value is None:
                # complete_value: null is null, unless the field is non-null (an error).
                return _STANDARD if plan.non_null else None
            kind = type(value)
            if kind is plan.same and (kind is not int or _INT_MIN <= value <= _INT_MAX):
                return value  # what `coerce` returns for it, unchanged
            if kind is plan.enum_class:
                name = plan.names.get(value)
                if name is not None:
                    return name
            if kind not in _PLAIN_TYPES and (
                self.is_awaitable(value) or isinstance(value, Exception) or value is Undefined
            ):
                return _STANDARD
            coerced = plan.coerce(value)
        except Exception:  # the standard path raises it again, and reports it
            return _STANDARD
        if coerced is None or coerced is Undefined:  # complete_leaf_value's TypeError
            return _STANDARD
        if type(coerced) not in _PLAIN_TYPES and self.is_awaitable(coerced):
            return _STANDARD
        return coerced
