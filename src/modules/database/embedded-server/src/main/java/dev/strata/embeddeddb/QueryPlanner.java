package dev.strata.embeddeddb;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import org.h2.mvstore.MVMap;

import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.bson.ObjectId;

/**
 * Turns a query into key ranges of an {@link OrderedIndex}: equality (a value, {@code $eq},
 * {@code $in}) on a prefix of the index's keys, then optionally a range ({@code $gt $gte $lt
 * $lte}) on the next key. The ranges are a superset of what the query matches; the collection
 * reads those documents in the order a full scan would meet them and applies the whole query to
 * them with the library's own matcher, sort, skip, limit and projection. Everything the planner
 * does not understand is simply left to that filter.
 *
 * <p>Two refinements need more than a superset, and are used only where they are exact:
 * <ul>
 * <li><b>walk</b>: when the sort is on the key right after the equality prefix, reading the
 * index in key order yields documents already sorted, so a page stops after skip + limit;</li>
 * <li><b>covered</b>: when the query is nothing but those equality and range conditions on an
 * index without arrays, each entry in the ranges is exactly one matching document, so counts and
 * skips need not read documents.</li>
 * </ul>
 */
final class QueryPlanner {

    /** Beyond this many equality combinations ({@code $in} products), use a shorter prefix. */
    private static final int MAX_TUPLES = 10_000;

    private QueryPlanner() {
    }

    /** What a query asks of one field, as far as an index can serve it. */
    static final class FieldCondition {
        /** Canonical values of an equality or {@code $in}, sorted; null when there is none. */
        List<Object> equals;
        /** Canonical bound values or {@link IndexKeys.Bound}s; null when unbounded. */
        Object lower;
        Object upper;
        boolean lowerExclusive;
        boolean upperExclusive;
        /** The condition is exactly the equality or range above (nothing else on this field). */
        boolean exact = true;

        boolean hasRange() {
            return lower != null || upper != null;
        }
    }

    /** The top-level conditions of a query. */
    static final class Conditions {
        final Map<String, FieldCondition> fields = new LinkedHashMap<>();
        /** The query is nothing but the exact field conditions (no $or, $expr, other operators). */
        boolean onlyFields = true;
        /** Branches of a top-level {@code $or}, if any. */
        List<Document> or;
    }

    /** Key ranges of one index that hold every document the query can match. */
    static final class Plan {
        final OrderedIndex index;
        /** Closed intervals {lo, hi} of map keys. */
        final List<Object[][]> ranges;
        final long entries;
        /** Each entry in the ranges is exactly one matching document. */
        final boolean covered;
        /** For a walk: the position of the sort key in the index keys, and the direction; 0 otherwise. */
        final int sortKey;
        final int direction;
        /** Exclusive bounds on the sort/range key, for covered walks and counts. */
        final Object excludedLower;
        final Object excludedUpper;
        final int rangeKey;

        Plan(OrderedIndex index, List<Object[][]> ranges, long entries, boolean covered, int rangeKey,
             Object excludedLower, Object excludedUpper, int sortKey, int direction) {
            this.index = index;
            this.ranges = ranges;
            this.entries = entries;
            this.covered = covered;
            this.rangeKey = rangeKey;
            this.excludedLower = excludedLower;
            this.excludedUpper = excludedUpper;
            this.sortKey = sortKey;
            this.direction = direction;
        }

        boolean isWalk() {
            return direction != 0;
        }

        /** Number of matching documents, for a covered plan. */
        long coveredCount() {
            long n = entries;
            for (Object[][] range : ranges) {
                Object[] prefix = java.util.Arrays.copyOf(range[0], rangeKey);
                if (excludedLower != null) {
                    n -= countPrefix(index.map(), append(prefix, excludedLower));
                }
                if (excludedUpper != null) {
                    n -= countPrefix(index.map(), append(prefix, excludedUpper));
                }
            }
            return n;
        }

        /** Cost in documents read (what the planner minimises). */
        long cost(int skip, int limit) {
            if (!isWalk()) {
                return entries;
            }
            if (covered) {
                return Math.min(entries, limit);
            }
            return Math.min(entries, 2L * ((long) skip + limit));
        }
    }

    // ---------------------------------------------------------------- reading the query

    static Conditions parse(Document query) {
        Conditions conditions = new Conditions();
        collect(query, conditions);
        return conditions;
    }

    private static void collect(Document query, Conditions conditions) {
        for (Map.Entry<String, Object> entry : query.entrySet()) {
            String key = entry.getKey();
            Object value = entry.getValue();
            if (key.equals("$and") && value instanceof List) {
                conditions.onlyFields = false;
                for (Object part : (List<?>) value) {
                    if (part instanceof Document) {
                        collect((Document) part, conditions);
                    }
                }
            } else if (key.equals("$or") && value instanceof List && conditions.or == null && allDocuments((List<?>) value)) {
                conditions.onlyFields = false;
                List<Document> branches = new ArrayList<>();
                for (Object branch : (List<?>) value) {
                    branches.add((Document) branch);
                }
                conditions.or = branches;
            } else if (key.startsWith("$")) {
                conditions.onlyFields = false;
            } else {
                FieldCondition condition = fieldCondition(value);
                if (condition == null || conditions.fields.containsKey(key)) {
                    conditions.onlyFields = false;
                } else {
                    conditions.fields.put(key, condition);
                    if (!condition.exact) {
                        conditions.onlyFields = false;
                    }
                }
            }
        }
    }

    private static boolean allDocuments(List<?> values) {
        if (values.isEmpty()) {
            return false;
        }
        for (Object value : values) {
            if (!(value instanceof Document)) {
                return false;
            }
        }
        return true;
    }

    /** Values an equality lookup handles: compared by the library with normalised equality. */
    private static boolean isEqualityValue(Object value) {
        return value == null || value instanceof String || value instanceof ObjectId || value instanceof Boolean
            || value instanceof Instant || value instanceof Number;
    }

    /** Values a range handles exactly: the library compares them only with values of their own type. */
    private static boolean isExactRangeValue(Object value) {
        return value instanceof String || value instanceof ObjectId || value instanceof Boolean || value instanceof Instant;
    }

    private static FieldCondition fieldCondition(Object value) {
        FieldCondition condition = new FieldCondition();
        if (!(value instanceof Document)) {
            if (!isEqualityValue(value)) {
                return null;
            }
            condition.equals = Collections.singletonList(IndexKeys.canonical(value));
            return condition;
        }
        Document operators = (Document) value;
        if (operators.isEmpty()) {
            return null;
        }
        for (String operator : operators.keySet()) {
            if (!operator.startsWith("$")) {
                return null; // a literal subdocument
            }
        }
        int rangeRank = 0;
        for (Map.Entry<String, Object> entry : operators.entrySet()) {
            Object operand = entry.getValue();
            switch (entry.getKey()) {
                case "$eq":
                    if (condition.equals == null && isEqualityValue(operand)) {
                        condition.equals = Collections.singletonList(IndexKeys.canonical(operand));
                    } else {
                        condition.exact = false;
                    }
                    break;
                case "$in":
                    List<Object> values = inValues(operand);
                    if (condition.equals == null && values != null) {
                        condition.equals = values;
                    } else {
                        condition.exact = false;
                    }
                    break;
                case "$gt":
                case "$gte":
                case "$lt":
                case "$lte": {
                    boolean lower = entry.getKey().startsWith("$g");
                    boolean exclusive = entry.getKey().length() == 3;
                    if (!(operand instanceof Number) && !isExactRangeValue(operand)) {
                        condition.exact = false;
                        break;
                    }
                    int rank = IndexKeys.rank(operand);
                    if ((rangeRank != 0 && rangeRank != rank) || (lower ? condition.lower : condition.upper) != null) {
                        condition.exact = false;
                        break;
                    }
                    rangeRank = rank;
                    if (operand instanceof Number) {
                        // the library compares longs and doubles loosely: take every number
                        condition.exact = false;
                        condition.lower = IndexKeys.Bound.below(rank);
                        condition.upper = IndexKeys.Bound.above(rank);
                    } else if (lower) {
                        condition.lower = IndexKeys.canonical(operand);
                        condition.lowerExclusive = exclusive;
                    } else {
                        condition.upper = IndexKeys.canonical(operand);
                        condition.upperExclusive = exclusive;
                    }
                    break;
                }
                default:
                    condition.exact = false;
            }
        }
        if (condition.hasRange()) {
            // only values of the bound's own type can satisfy a comparison
            if (condition.lower == null) {
                condition.lower = IndexKeys.Bound.below(rangeRank);
            }
            if (condition.upper == null) {
                condition.upper = IndexKeys.Bound.above(rangeRank);
            }
        }
        if (condition.equals == null && !condition.hasRange()) {
            return null;
        }
        if (condition.equals != null && condition.hasRange()) {
            // the plan uses only the equality; the range is left to the filter
            condition.exact = false;
        }
        return condition;
    }

    private static List<Object> inValues(Object operand) {
        if (!(operand instanceof Collection)) {
            return null;
        }
        TreeSet<Object> values = IndexKeys.newValueSet();
        for (Object value : (Collection<?>) operand) {
            if (!isEqualityValue(value)) {
                return null;
            }
            values.add(IndexKeys.canonical(value));
        }
        return new ArrayList<>(values);
    }

    // ---------------------------------------------------------------- choosing ranges

    /**
     * The cheapest plan over the given indexes, or null when none narrows the query.
     *
     * @param orderBy the sort, or null; a walk is considered only when limit &gt; 0
     */
    static Plan best(Conditions conditions, List<OrderedIndex> indexes, Document orderBy, int skip, int limit) {
        Plan best = null;
        for (OrderedIndex index : indexes) {
            Plan plan = plan(index, conditions, orderBy, skip, limit);
            if (plan != null && (best == null || plan.cost(skip, limit) < best.cost(skip, limit))) {
                best = plan;
            }
        }
        return best;
    }

    static Plan plan(OrderedIndex index, Conditions conditions, Document orderBy, int skip, int limit) {
        if (!index.isPlannable()) {
            return null;
        }
        List<String> names = index.keyNames();
        boolean multikey = index.state().isMultikey();

        // equality prefix, as tuples of values
        List<Object[]> tuples = new ArrayList<>();
        tuples.add(new Object[0]);
        int prefix = 0;
        boolean truncated = false;
        while (prefix < names.size()) {
            FieldCondition condition = conditions.fields.get(names.get(prefix));
            if (condition == null || condition.equals == null) {
                break;
            }
            if ((long) tuples.size() * Math.max(1, condition.equals.size()) > MAX_TUPLES) {
                truncated = true;
                break;
            }
            List<Object[]> longer = new ArrayList<>();
            for (Object[] tuple : tuples) {
                for (Object value : condition.equals) {
                    if (value == null && !index.indexesEveryDocument()) {
                        return null; // a sparse index does not hold documents without the field
                    }
                    longer.add(append(tuple, value));
                }
            }
            tuples = longer;
            prefix++;
        }
        FieldCondition range = null;
        if (!truncated && prefix < names.size()) {
            FieldCondition condition = conditions.fields.get(names.get(prefix));
            if (condition != null && condition.hasRange()) {
                range = condition;
            }
        }
        if (prefix == 0 && range == null) {
            return null;
        }

        List<Object[][]> ranges = new ArrayList<>(tuples.size());
        long entries = 0;
        for (Object[] tuple : tuples) {
            Object[] lo = range == null ? tuple : append(tuple, range.lower);
            Object[] hi = append(range == null ? tuple : append(tuple, range.upper), IndexKeys.MAX);
            ranges.add(new Object[][] {lo, hi});
            entries += count(index.map(), lo, hi);
        }

        boolean covered = conditions.onlyFields && !multikey && (range == null || range.exact);
        if (covered) {
            int used = prefix + (range == null ? 0 : 1);
            for (String field : conditions.fields.keySet()) {
                int at = names.indexOf(field);
                if (at < 0 || at >= used) {
                    covered = false;
                    break;
                }
            }
        }

        int sortKey = 0;
        int direction = 0;
        if (limit > 0 && !multikey && orderBy != null && orderBy.size() == 1 && tuples.size() == 1 && prefix < names.size()) {
            Map.Entry<String, Object> sort = orderBy.entrySet().iterator().next();
            if (sort.getKey().equals(names.get(prefix)) && sort.getValue() instanceof Number) {
                sortKey = prefix;
                direction = ((Number) sort.getValue()).intValue() > 0 ? 1 : -1;
            }
        }
        Object excludedLower = range != null && range.lowerExclusive ? range.lower : null;
        Object excludedUpper = range != null && range.upperExclusive ? range.upper : null;
        Plan walk = new Plan(index, ranges, entries, covered, prefix, excludedLower, excludedUpper, sortKey, direction);
        if (direction != 0) {
            Plan candidates = new Plan(index, ranges, entries, covered, prefix, excludedLower, excludedUpper, 0, 0);
            return walk.cost(skip, limit) <= candidates.cost(skip, limit) ? walk : candidates;
        }
        return walk;
    }

    // ---------------------------------------------------------------- counting in a map

    static Object[] append(Object[] key, Object value) {
        Object[] longer = java.util.Arrays.copyOf(key, key.length + 1);
        longer[key.length] = value;
        return longer;
    }

    /** Number of keys k with lo &lt;= k &lt;= hi, in O(log n). */
    static long count(MVMap<Object[], Object> map, Object[] lo, Object[] hi) {
        long below = rank(map, lo, false);
        long upTo = rank(map, hi, true);
        return Math.max(0, upTo - below);
    }

    /** Number of keys starting with the given prefix. */
    static long countPrefix(MVMap<Object[], Object> map, Object[] prefix) {
        return count(map, prefix, append(prefix, IndexKeys.MAX));
    }

    /** Number of keys below {@code key}, or up to and including it. */
    static long rank(MVMap<Object[], Object> map, Object[] key, boolean inclusive) {
        long index = map.getKeyIndex(key);
        if (index >= 0) {
            return inclusive ? index + 1 : index;
        }
        return -index - 1;
    }
}
