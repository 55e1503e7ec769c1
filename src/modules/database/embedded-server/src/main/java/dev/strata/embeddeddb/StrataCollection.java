package dev.strata.embeddeddb;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.Stream;

import org.h2.mvstore.Cursor;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.Constants;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.h2.H2Collection;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.bson.ObjectId;
import de.bwaldvogel.mongo.exception.IndexBuildFailedException;
import de.bwaldvogel.mongo.exception.MongoServerError;

/**
 * The H2 collection with three changes:
 * <ol>
 * <li><b>Queries use the ordered indexes.</b> {@link #queryDocuments} asks the
 * {@link QueryPlanner} for index ranges that hold every possible match, reads those documents
 * in the order a full scan would meet them, and hands them to the library's own filter, sort,
 * skip, limit and projection, so the answer is the one the scan gives. Lookups the library
 * already serves with a unique index keep its path. Counts of queries an index covers are
 * answered from the index alone.</li>
 * <li><b>Results are private copies</b>, taken under the collection's lock
 * ({@link #createQueryResult}). The library answers with the stored document objects and later
 * updates them in place, so a document could change while it was being sent (a
 * {@code findOneAndUpdate} returned other callers' increments) or while H2 was writing it to
 * disk. Updates now start from a copy and store it as a new object.</li>
 * <li><b>New indexes are filled in one pass</b> over the documents (the library reads them twice),
 * and after opening the store, indexes that must be rebuilt are filled together.</li>
 * </ol>
 */
final class StrataCollection extends H2Collection {

    private static final Logger log = LoggerFactory.getLogger(StrataCollection.class);

    /** Below this many candidate documents an index is always used, whatever the collection's size. */
    private static final long ALWAYS_USE_INDEX_BELOW = 256;
    /** Above this share of the collection, reading candidates one by one costs more than a scan. */
    private static final long SCAN_SHARE = 16;
    private static final long PARALLEL_BUILD_FROM = 20_000;

    /** The order in which H2 keeps the documents (and a scan meets them): by position (_id). */
    private static final StrataDatabase.PerThreadObjectType POSITIONS = new StrataDatabase.PerThreadObjectType();
    private static final Comparator<Object> BY_POSITION = POSITIONS::compare;

    private final MVMap<Object, Document> dataMap;
    private final MVMap<String, Object> metaMap;

    StrataCollection(MongoDatabase database, String collectionName, CollectionOptions options,
                     MVMap<Object, Document> dataMap, MVMap<String, Object> metaMap, CursorRegistry cursorRegistry) {
        super(database, collectionName, options, dataMap, metaMap, cursorRegistry);
        this.dataMap = dataMap;
        this.metaMap = metaMap;
        if (!(dataMap.getKeyType() instanceof StrataDatabase.PerThreadObjectType)) {
            throw new IllegalStateException("unexpected key type of " + dataMap.getName() + ": " + dataMap.getKeyType());
        }
    }

    MVMap<Object, Document> dataMap() {
        return dataMap;
    }

    MVMap<String, Object> metaMap() {
        return metaMap;
    }

    // ---------------------------------------------------------------- answers are copies

    @Override
    protected QueryResult createQueryResult(List<Document> matchedDocuments, int batchSize) {
        List<Document> copies = new ArrayList<>(matchedDocuments.size());
        for (Document document : matchedDocuments) {
            copies.add(document.cloneDeeply());
        }
        return super.createQueryResult(copies, batchSize);
    }

    // ---------------------------------------------------------------- queries

    /** Candidate documents chosen by the planner. */
    private static final class Selection {
        final Stream<Document> documents;
        /** Already filtered, sorted, skipped and limited (an index walk). */
        final boolean complete;

        Selection(Stream<Document> documents, boolean complete) {
            this.documents = documents;
            this.complete = complete;
        }
    }

    @Override
    protected QueryResult queryDocuments(Document query, Document orderBy, int numberToSkip, int limit, int batchSize,
                                         Document fieldSelector) {
        Selection selection = select(query, orderBy, numberToSkip, limit, true);
        if (selection == null) {
            return super.queryDocuments(query, orderBy, numberToSkip, limit, batchSize, fieldSelector);
        }
        if (selection.complete) {
            return matchDocumentsFromStream(selection.documents, query, orderBy, 0, 0, batchSize, fieldSelector);
        }
        return matchDocumentsFromStream(selection.documents, query, orderBy, numberToSkip, limit, batchSize, fieldSelector);
    }

    /**
     * @param keepLibraryLookups leave queries a unique index of the library can answer to the
     *                           library (as a find does), rather than reading them in scan order
     */
    private Selection select(Document query, Document orderBy, int skip, int limit, boolean keepLibraryLookups) {
        if (query == null || query.isEmpty() || isNaturalDescending(orderBy)) {
            return null;
        }
        if (keepLibraryLookups) {
            for (Index<Object> index : getIndexes()) {
                if (index.canHandle(query)) {
                    return null;
                }
            }
        }
        try {
            // a query the matcher rejects fails the way it does without indexes
            documentMatchesQuery(new Document(), query);
        } catch (RuntimeException e) {
            return null;
        }
        List<OrderedIndex> indexes = orderedIndexes();
        QueryPlanner.Conditions conditions = QueryPlanner.parse(query);
        QueryPlanner.Plan plan = QueryPlanner.best(conditions, indexes, orderBy, skip, limit);
        List<Object> ids = idValues(conditions);
        List<Source> branches = orSources(conditions, indexes);
        long planCost = plan == null ? Long.MAX_VALUE : plan.cost(skip, limit);
        long idCost = ids == null ? Long.MAX_VALUE : ids.size();
        long orCost = branches == null ? Long.MAX_VALUE : branches.stream().mapToLong(Source::cost).sum();
        long best = Math.min(planCost, Math.min(idCost, orCost));
        if (best > Math.max(ALWAYS_USE_INDEX_BELOW, count() / SCAN_SHARE)) {
            return null;
        }
        if (best == planCost) {
            plan.index.state().recordAccess();
            if (plan.isWalk()) {
                List<Document> page = walk(plan, query, skip, limit);
                if (page != null) {
                    return new Selection(page.stream(), true);
                }
            }
            return new Selection(documentsAt(sorted(positions(plan, new HashSet<>()))), false);
        }
        if (best == idCost) {
            return new Selection(documentsAt(sorted(positionsOfIds(ids, new HashSet<>()))), false);
        }
        Set<Object> positions = new HashSet<>();
        for (Source branch : branches) {
            if (branch.plan != null) {
                branch.plan.index.state().recordAccess();
                positions(branch.plan, positions);
            } else {
                positionsOfIds(branch.ids, positions);
            }
        }
        return new Selection(documentsAt(sorted(positions)), false);
    }

    /** Where the candidates of one $or branch come from: index ranges, or _id values. */
    private static final class Source {
        final QueryPlanner.Plan plan;
        final List<Object> ids;

        Source(QueryPlanner.Plan plan, List<Object> ids) {
            this.plan = plan;
            this.ids = ids;
        }

        long cost() {
            return plan != null ? plan.entries : ids.size();
        }
    }

    /** A source for every branch of a top-level $or, or null when a branch cannot be narrowed. */
    private List<Source> orSources(QueryPlanner.Conditions conditions, List<OrderedIndex> indexes) {
        if (conditions.or == null) {
            return null;
        }
        List<Source> sources = new ArrayList<>();
        for (Document branch : conditions.or) {
            QueryPlanner.Conditions branchConditions = QueryPlanner.parse(branch);
            QueryPlanner.Plan plan = QueryPlanner.best(branchConditions, indexes, null, 0, 0);
            List<Object> ids = idValues(branchConditions);
            if (ids != null && (plan == null || ids.size() <= plan.entries)) {
                sources.add(new Source(null, ids));
            } else if (plan != null) {
                sources.add(new Source(plan, null));
            } else {
                return null;
            }
        }
        return sources;
    }

    /** The _id values of an equality or $in on _id, which the primary key finds directly. */
    private List<Object> idValues(QueryPlanner.Conditions conditions) {
        QueryPlanner.FieldCondition condition = conditions.fields.get(Constants.ID_FIELD);
        if (condition == null || condition.equals == null || getIdField() == null || !getIdField().equals(Constants.ID_FIELD)) {
            return null;
        }
        return condition.equals;
    }

    private Set<Object> positionsOfIds(List<Object> ids, Set<Object> positions) {
        Index<Object> primaryKey = null;
        for (Index<Object> index : getIndexes()) {
            if (index.getName().equals(Constants.PRIMARY_KEY_INDEX_NAME)) {
                primaryKey = index;
            }
        }
        for (Object id : ids) {
            Object position;
            if (id instanceof ObjectId || id instanceof String) {
                // stored under exactly this value (the library's equality compares these by value too)
                position = dataMap.containsKey(id) ? id : null;
            } else if (primaryKey != null) {
                // the library's key normalises numbers (1 finds 1.0)
                position = primaryKey.getPosition(new Document(Constants.ID_FIELD, id));
            } else {
                position = null;
            }
            if (position != null) {
                positions.add(position);
            }
        }
        return positions;
    }

    List<OrderedIndex> orderedIndexes() {
        List<OrderedIndex> indexes = new ArrayList<>();
        for (Index<Object> index : getIndexes()) {
            if (index instanceof OrderedIndex && !((OrderedIndex) index).state().needsBuild()) {
                indexes.add((OrderedIndex) index);
            }
        }
        return indexes;
    }

    /** Adds the positions in the plan's ranges to the set. */
    private static Set<Object> positions(QueryPlanner.Plan plan, Set<Object> positions) {
        MVMap<Object[], Object> map = plan.index.map();
        for (Object[][] range : plan.ranges) {
            Cursor<Object[], Object> cursor = map.cursor(range[0], range[1], false);
            while (cursor.hasNext()) {
                Object[] key = cursor.next();
                positions.add(plan.index.positionOf(key, cursor.getValue()));
            }
        }
        return positions;
    }

    /** Positions in scan order. */
    private static List<Object> sorted(Set<Object> positions) {
        List<Object> ordered = new ArrayList<>(positions);
        ordered.sort(BY_POSITION);
        return ordered;
    }

    private Stream<Document> documentsAt(List<Object> positions) {
        return positions.stream().map(this::documentAt).filter(Objects::nonNull);
    }

    private Document documentAt(Object position) {
        Document document = getDocument(position);
        if (document == null) {
            log.error("{}: an index refers to a missing document {}; restart the server to rebuild the indexes", this, position);
        }
        return document;
    }

    /**
     * Reads the index in sort order and returns the requested page (already filtered, skipped and
     * limited), or null when the index holds values whose order here may differ from the
     * library's sort (numbers, documents...), in which case the caller sorts candidates instead.
     * Entries with equal sort values are read in scan order, as the library's stable sort leaves them.
     */
    private List<Document> walk(QueryPlanner.Plan plan, Document query, int skip, int limit) {
        Object[][] range = plan.ranges.get(0);
        MVMap<Object[], Object> map = plan.index.map();
        int[] toSkip = {skip};
        Object[] from = plan.direction > 0 ? range[0] : range[1];
        if (skip > 0 && canJump(plan)) {
            from = jump(plan, skip);
            if (from == null) {
                return new ArrayList<>();
            }
            toSkip[0] = 0;
        }
        Cursor<Object[], Object> cursor = plan.direction > 0
            ? map.cursor(from, range[1], false)
            : map.cursor(from, range[0], true);
        int sortKey = plan.sortKey;
        List<Document> page = new ArrayList<>(Math.min(limit, 1024));
        List<Object> group = new ArrayList<>();
        Object groupValue = null;
        while (cursor.hasNext()) {
            Object[] key = cursor.next();
            Object value = key[sortKey];
            if (!IndexKeys.isWalkableRank(IndexKeys.rank(value))) {
                return null;
            }
            if (plan.covered && (isExcluded(value, plan.excludedLower) || isExcluded(value, plan.excludedUpper))) {
                continue;
            }
            if (!group.isEmpty() && IndexKeys.compare(value, groupValue) != 0) {
                Boolean done = takeGroup(group, plan.covered, query, toSkip, limit, page);
                if (done == null) {
                    return null;
                }
                if (done) {
                    return page;
                }
                group.clear();
            }
            groupValue = value;
            group.add(plan.index.positionOf(key, cursor.getValue()));
        }
        if (!group.isEmpty() && takeGroup(group, plan.covered, query, toSkip, limit, page) == null) {
            return null;
        }
        return page;
    }

    /**
     * Whether a covered walk may skip by position in the map instead of stepping: the entries
     * are unique on the sort key (it completes a unique index's key, so no ties to order by
     * position), and the first and last entries of the range hold the same walkable type, so
     * every entry between them does and the map's order is the library's sort order.
     */
    private static boolean canJump(QueryPlanner.Plan plan) {
        if (!plan.covered || !(plan.index instanceof OrderedUniqueIndex) || plan.sortKey != plan.index.keyLength() - 1) {
            return false;
        }
        Object[][] range = plan.ranges.get(0);
        Object[] first = plan.index.map().ceilingKey(range[0]);
        Object[] last = plan.index.map().floorKey(range[1]);
        if (first == null || last == null || IndexKeys.compareKeys(first, range[1]) > 0) {
            return false;
        }
        int rank = IndexKeys.rank(first[plan.sortKey]);
        return IndexKeys.isWalkableRank(rank) && rank == IndexKeys.rank(last[plan.sortKey]);
    }

    /** The key {@code skip} matching entries into the walk, or null when the walk ends before it. */
    private static Object[] jump(QueryPlanner.Plan plan, int skip) {
        Object[][] range = plan.ranges.get(0);
        MVMap<Object[], Object> map = plan.index.map();
        Object[] prefix = java.util.Arrays.copyOf(range[0], plan.rangeKey);
        long first = QueryPlanner.rank(map, range[0], false);
        long last = QueryPlanner.rank(map, range[1], true) - 1;
        long index;
        if (plan.direction > 0) {
            // entries equal to an exclusive lower bound come first: step over them as well
            long excluded = plan.excludedLower == null ? 0 : QueryPlanner.countPrefix(map, QueryPlanner.append(prefix, plan.excludedLower));
            index = first + excluded + skip;
        } else {
            long excluded = plan.excludedUpper == null ? 0 : QueryPlanner.countPrefix(map, QueryPlanner.append(prefix, plan.excludedUpper));
            index = last - excluded - skip;
        }
        return index < first || index > last ? null : map.getKey(index);
    }

    private static boolean isExcluded(Object value, Object bound) {
        return bound != null && IndexKeys.compare(value, bound) == 0;
    }

    /**
     * Adds the matches among a group of equal sort values to the page.
     *
     * @return true when the page is full, false to go on, null when a covered entry did not match
     * (the index disagrees with the documents: let the caller take the safe path)
     */
    private Boolean takeGroup(List<Object> group, boolean covered, Document query, int[] toSkip, int limit, List<Document> page) {
        group.sort(BY_POSITION);
        for (Object position : group) {
            if (covered && toSkip[0] > 0) {
                toSkip[0]--;
                continue;
            }
            Document document = documentAt(position);
            if (document == null || !documentMatchesQuery(document, query)) {
                if (covered) {
                    return null;
                }
                continue;
            }
            if (toSkip[0] > 0) {
                toSkip[0]--;
                continue;
            }
            page.add(document);
            if (page.size() >= limit) {
                return true;
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- counts and aggregations

    @Override
    public synchronized int count(Document query, int skip, int limit) {
        if (query != null && !query.isEmpty()) {
            OptionalLong covered = coveredCount(query);
            if (covered.isPresent()) {
                long count = covered.getAsLong();
                if (skip > 0) {
                    count = Math.max(0, count - skip);
                }
                if (limit > 0) {
                    count = Math.min(limit, count);
                }
                return (int) count;
            }
        }
        return super.count(query, skip, limit);
    }

    /** The number of documents matching the query, when an index alone can tell it exactly. */
    synchronized OptionalLong coveredCount(Document query) {
        QueryPlanner.Conditions conditions = QueryPlanner.parse(query);
        if (!conditions.onlyFields || conditions.fields.isEmpty()) {
            return OptionalLong.empty();
        }
        for (OrderedIndex index : orderedIndexes()) {
            QueryPlanner.Plan plan = QueryPlanner.plan(index, conditions, null, 0, 0);
            if (plan != null && plan.covered) {
                index.state().recordAccess();
                return OptionalLong.of(Math.max(0, plan.coveredCount()));
            }
        }
        return OptionalLong.empty();
    }

    /** Copies of the documents matching the query, in the order a full scan meets them (for $match). */
    synchronized List<Document> matchingInScanOrder(Document query) {
        Stream<Document> candidates = null;
        Selection selection = select(query, null, 0, 0, false);
        if (selection != null) {
            candidates = selection.documents;
        } else if (query != null) {
            for (Index<Object> index : getIndexes()) {
                if (index.canHandle(query)) {
                    List<Object> positions = new ArrayList<>();
                    index.getPositions(query).forEach(positions::add);
                    positions.sort(BY_POSITION);
                    candidates = documentsAt(positions);
                    break;
                }
            }
        }
        QueryResult result = candidates == null
            ? super.queryDocuments(query == null ? new Document() : query, null, 0, 0, 0, null)
            : matchDocumentsFromStream(candidates, query, null, 0, 0, 0, null);
        return result.collectDocuments();
    }

    // ---------------------------------------------------------------- building indexes

    @Override
    public synchronized void addIndex(Index<Object> index) {
        boolean known = getIndexes().stream().anyMatch(existing -> existing.getName().equals(index.getName()));
        if (index instanceof OrderedIndex && !known && !((OrderedIndex) index).state().needsBuild()
            && index.isEmpty() && !isEmpty()) {
            // a new index over existing documents: fill it here, in one pass
            try {
                build(List.of(index), true);
            } catch (MongoServerError e) {
                index.drop();
                throw new IndexBuildFailedException(e, this);
            } catch (RuntimeException e) {
                index.drop();
                throw e;
            }
        }
        super.addIndex(index);
    }

    /**
     * After the database opened: fills the indexes whose maps are new or must be rebuilt, reading
     * every document once (a store written with the library's own _id map, by stock
     * mongo-java-server or an earlier build, gets its ordered _id index here). After an unclean
     * shutdown ({@code recover}) every index is rebuilt, because H2 may have saved a write to a
     * document without the matching write to an index map; an index of the library, if one is
     * left, is cleared and refilled too.
     */
    void finishOpening(boolean recover, MVStore store) {
        List<Index<Object>> targets = new ArrayList<>();
        for (Index<Object> index : getIndexes()) {
            if (index instanceof OrderedIndex) {
                if (((OrderedIndex) index).state().needsBuild()) {
                    targets.add(index);
                }
            } else if (recover) {
                store.openMap(StrataDatabase.libraryIndexMapName(getFullName(), index.getName())).clear();
                targets.add(index);
            }
        }
        if (targets.isEmpty()) {
            return;
        }
        long start = System.nanoTime();
        build(targets, false);
        for (Index<Object> index : targets) {
            if (index instanceof OrderedIndex) {
                ((OrderedIndex) index).state().finishBuild();
            }
        }
        log.info("{}: built {} index(es) from {} documents in {} ms", getFullName(), targets.size(), count(),
            (System.nanoTime() - start) / 1_000_000);
    }

    /**
     * Adds every document to the given indexes, in two threads for large collections.
     *
     * @param strict rethrow a failure (a new index: the build fails); otherwise log it and go on
     */
    private void build(List<Index<Object>> indexes, boolean strict) {
        long size = dataMap.sizeAsLong();
        if (size < PARALLEL_BUILD_FROM) {
            addAll(dataMap.cursor(null), null, indexes, strict);
            return;
        }
        Object middle = dataMap.getKey(size / 2);
        CompletableFuture<Void> second = CompletableFuture.runAsync(() -> addAll(dataMap.cursor(middle), null, indexes, strict));
        try {
            addAll(dataMap.cursor(null), middle, indexes, strict);
        } finally {
            try {
                second.join();
            } catch (CompletionException e) {
                if (e.getCause() instanceof RuntimeException) {
                    throw (RuntimeException) e.getCause();
                }
                throw e;
            }
        }
    }

    private void addAll(Cursor<Object, Document> cursor, Object end, List<Index<Object>> indexes, boolean strict) {
        while (cursor.hasNext()) {
            Object position = cursor.next();
            if (end != null && BY_POSITION.compare(position, end) >= 0) {
                return;
            }
            Document document = cursor.getValue();
            for (Index<Object> index : indexes) {
                try {
                    index.add(document, position, this);
                } catch (RuntimeException e) {
                    if (strict) {
                        throw e;
                    }
                    log.error("{}: document {} cannot be added to index {}: {}", getFullName(), position, index.getName(),
                        e.getMessage());
                }
            }
        }
    }
}
