package dev.strata.embeddeddb;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.h2.mvstore.WriteBuffer;
import org.h2.mvstore.type.BasicDataType;
import org.h2.mvstore.type.ObjectDataType;

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.Constants;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.DatabaseResolver;
import de.bwaldvogel.mongo.backend.EmptyCursor;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.Utils;
import de.bwaldvogel.mongo.backend.aggregation.Aggregation;
import de.bwaldvogel.mongo.backend.aggregation.Expression;
import de.bwaldvogel.mongo.backend.aggregation.stage.ProjectStage;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.ErrorCode;
import de.bwaldvogel.mongo.exception.FailedToOptimizePipelineError;
import de.bwaldvogel.mongo.exception.MongoServerError;
import de.bwaldvogel.mongo.exception.TypeMismatchException;
import de.bwaldvogel.mongo.oplog.Oplog;
import io.netty.channel.Channel;

/**
 * The H2 database with:
 * <ul>
 * <li>collections of type {@link StrataCollection};</li>
 * <li>non-unique indexes ({@code openOrCreateSecondaryIndex}, the library's hook for other
 * backends) as {@link SecondaryIndex}, and unique indexes, _id included, as
 * {@link OrderedUniqueIndex}; both are H2 maps named {@code <db>.<collection>._strata_<index>};</li>
 * <li>aggregations that start with {@code $match} (the driver's {@code countDocuments} among
 * them) reading only the documents the indexes select, and counts an index covers answered
 * from the index;</li>
 * <li>{@code renameCollection} moving the collection's H2 maps: the library looks them up under
 * the new name after renaming, so it creates empty ones and a restart loses the collection.</li>
 * </ul>
 */
final class StrataDatabase extends H2Database {

    /** The library's map names (package-private in {@code H2Database}). */
    private static final String DATA_PREFIX = "databases.";
    private static final String META_PREFIX = "meta.";
    private static final String INDEXES_COLLECTION = "system.indexes";

    /** Hands the store to the callbacks the library makes from its constructor. */
    private static final ThreadLocal<Opening> OPENING = new ThreadLocal<>();

    private static final class Opening {
        final MVStore store;
        final boolean recover;
        final List<StrataCollection> collections = new ArrayList<>();

        Opening(MVStore store, boolean recover) {
            this.store = store;
            this.recover = recover;
        }
    }

    private final MVStore store;

    private StrataDatabase(String databaseName, MVStore store, CursorRegistry cursorRegistry) {
        super(databaseName, store, cursorRegistry);
        this.store = store;
    }

    /**
     * Opens (or creates) a database, then fills the indexes that need it in one pass per collection.
     *
     * @param recover the previous process did not shut down cleanly: rebuild every index
     */
    static StrataDatabase open(String databaseName, MVStore store, CursorRegistry cursorRegistry, boolean recover) {
        Opening opening = new Opening(store, recover);
        OPENING.set(opening);
        StrataDatabase database;
        try {
            database = new StrataDatabase(databaseName, store, cursorRegistry);
        } finally {
            OPENING.remove();
        }
        for (StrataCollection collection : opening.collections) {
            collection.finishOpening(recover, store);
        }
        return database;
    }

    private MVStore store() {
        return store != null ? store : OPENING.get().store;
    }

    static String libraryIndexMapName(String fullCollectionName, String indexName) {
        return fullCollectionName + "._index_" + indexName;
    }

    @Override
    protected MongoCollection<Object> openOrCreateCollection(String collectionName, CollectionOptions options) {
        String fullName = getFullCollectionNamespace(collectionName);
        MVMap<Object, Document> dataMap = store().openMap(DATA_PREFIX + fullName,
            new MVMap.Builder<Object, Document>().keyType(new PerThreadObjectType()));
        MVMap<String, Object> metaMap = store().openMap(META_PREFIX + fullName);
        StrataCollection collection = new StrataCollection(this, collectionName, options, dataMap, metaMap, cursorRegistry);
        Opening opening = OPENING.get();
        if (opening != null) {
            opening.collections.add(collection);
        }
        return collection;
    }

    /**
     * H2's default key type ({@code ObjectDataType}), same format, one instance per thread. The
     * default caches the type it last handled in a field that {@code compare} reads twice; when
     * a collection's _ids mix types (numbers, strings, ObjectIds), H2's background commit
     * (writing pages) and a query (comparing keys) on the same map race on that field, and the
     * query fails with "Can not compare" or reads the wrong entry.
     */
    static final class PerThreadObjectType extends BasicDataType<Object> {

        private static final ThreadLocal<ObjectDataType> TYPE = ThreadLocal.withInitial(ObjectDataType::new);

        @Override
        public int compare(Object a, Object b) {
            return TYPE.get().compare(a, b);
        }

        @Override
        public int binarySearch(Object key, Object storage, int size, int initialGuess) {
            return TYPE.get().binarySearch(key, storage, size, initialGuess);
        }

        @Override
        public int getMemory(Object obj) {
            return TYPE.get().getMemory(obj);
        }

        @Override
        public void write(WriteBuffer buff, Object obj) {
            TYPE.get().write(buff, obj);
        }

        @Override
        public void write(WriteBuffer buff, Object storage, int len) {
            TYPE.get().write(buff, storage, len);
        }

        @Override
        public Object read(ByteBuffer buff) {
            return TYPE.get().read(buff);
        }

        @Override
        public void read(ByteBuffer buff, Object storage, int len) {
            TYPE.get().read(buff, storage, len);
        }

        @Override
        public Object[] createStorage(int size) {
            return new Object[size];
        }
    }

    // ---------------------------------------------------------------- indexes

    /**
     * Every unique index, the primary key (_id) included, keeps the library's rules over an ordered
     * map. The library's own map compares keys by serializing them (Java serialization, at every
     * step of every lookup and insert), which made _id lookups and inserts slow and a rebuild of
     * the _id index after a crash take minutes per million documents.
     */
    @Override
    protected Index<Object> openOrCreateUniqueIndex(String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
        // a map the library may have written for this index before is replaced by the ordered one
        store().removeMap(libraryIndexMapName(getFullCollectionNamespace(collectionName), indexName));
        IndexStorage storage = openStorage(collectionName, indexName);
        return new OrderedUniqueIndex(indexName, keys, sparse, storage.map, storage.state);
    }

    @Override
    protected Index<Object> openOrCreateSecondaryIndex(String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
        IndexStorage storage = openStorage(collectionName, indexName);
        return new SecondaryIndex(indexName, keys, sparse, storage.map, storage.state);
    }

    private static final class IndexStorage {
        final MVMap<Object[], Object> map;
        final OrderedIndex.State state;

        IndexStorage(MVMap<Object[], Object> map, OrderedIndex.State state) {
            this.map = map;
            this.state = state;
        }
    }

    private IndexStorage openStorage(String collectionName, String indexName) {
        StrataCollection collection = (StrataCollection) resolveCollection(collectionName, true);
        MVMap<Object[], Object> map = OrderedIndex.openMap(store(), OrderedIndex.mapName(collection.getFullName(), indexName));
        boolean registered = collection.getIndexes().stream().anyMatch(index -> index.getName().equals(indexName));
        Opening opening = OPENING.get();
        boolean fresh;
        boolean needsBuild;
        if (registered) {
            // createIndexes for an index that exists: the library discards this object, the map stays as it is
            fresh = false;
            needsBuild = false;
        } else if (opening != null) {
            if (opening.recover) {
                map.clear();
            }
            fresh = map.isEmpty();
            needsBuild = fresh && !collection.isEmpty();
        } else {
            // a new index starts empty (nothing left from an earlier failed build); the collection fills it
            map.clear();
            fresh = true;
            needsBuild = false;
        }
        return new IndexStorage(map, new OrderedIndex.State(collection.metaMap(), indexName, fresh, needsBuild));
    }

    // ---------------------------------------------------------------- renameCollection

    /**
     * Moves the collection's H2 maps (data, meta, indexes) to its new name. The library renames
     * the collection in its catalogues only: after a restart the collection was empty, and a new
     * collection under the old name found the old index entries.
     */
    @Override
    public void moveCollection(MongoDatabase oldDatabase, MongoCollection<?> collection, String newCollectionName) {
        String oldName = collection.getFullName();
        String newName = getFullCollectionNamespace(newCollectionName);
        // the library records the move in this database's index catalogue (which a database that
        // has had no collection yet lacks), but leaves the descriptions of a collection coming
        // from another database in that database's catalogue: move them
        MongoCollection<Object> catalogue = getOrCreateIndexesCollection();
        if (oldDatabase != this) {
            MongoCollection<?> oldCatalogue = oldDatabase.resolveCollection(INDEXES_COLLECTION, false);
            if (oldCatalogue != null) {
                List<Document> descriptions = new ArrayList<>();
                oldCatalogue.handleQuery(new Document("ns", oldName)).forEach(descriptions::add);
                for (Document description : descriptions) {
                    Document moved = description.clone();
                    moved.put("ns", newName);
                    catalogue.addDocument(moved);
                }
                oldCatalogue.deleteDocuments(new Document("ns", oldName), 0);
            }
        }
        List<String> indexMaps = store().getMapNames().stream()
            .filter(name -> name.startsWith(oldName + "._index_") || name.startsWith(oldName + "._strata_"))
            .collect(Collectors.toList());
        super.moveCollection(oldDatabase, collection, newCollectionName);
        if (collection instanceof StrataCollection) {
            StrataCollection moved = (StrataCollection) collection;
            renameMap(moved.dataMap(), DATA_PREFIX + newName);
            renameMap(moved.metaMap(), META_PREFIX + newName);
        }
        for (String name : indexMaps) {
            MVMap<?, ?> map = name.startsWith(oldName + "._strata_") ? OrderedIndex.openMap(store(), name) : store().openMap(name);
            renameMap(map, newName + name.substring(oldName.length()));
        }
    }

    private void renameMap(MVMap<?, ?> map, String newName) {
        if (newName.equals(map.getName())) {
            return;
        }
        // whatever is there under the new name is empty (the library just created it) or stale
        store().removeMap(newName);
        store().renameMap(map, newName);
    }

    // ---------------------------------------------------------------- aggregate

    @Override
    public Document handleCommand(Channel channel, String command, Document query, DatabaseResolver databaseResolver, Oplog oplog) {
        if (command.equalsIgnoreCase("aggregate")) {
            Document answer = aggregate(channel, command, query, databaseResolver, oplog);
            if (answer != null) {
                return answer;
            }
        }
        return super.handleCommand(channel, command, query, databaseResolver, oplog);
    }

    /**
     * An aggregation whose first stage is {@code $match}: the library's own pipeline, fed with the
     * documents the indexes select (in scan order) instead of the whole collection. When the
     * stages after {@code $match} only count ({@code countDocuments}: {@code $group} with a
     * constant key and {@code $sum} of constants, or {@code $count}, after any {@code $skip}
     * and {@code $limit}) and an index covers the match, their result is computed from the number
     * of matches ({@link #countFrom}), or else they run over that many empty documents. Answers
     * null to leave everything else to the library.
     */
    private Document aggregate(Channel channel, String command, Document query, DatabaseResolver databaseResolver, Oplog oplog) {
        Object collectionName = query.get(command);
        Object pipelineObject = query.get("pipeline");
        if (!(collectionName instanceof String) || !(pipelineObject instanceof List) || ((List<?>) pipelineObject).isEmpty()) {
            return null;
        }
        MongoCollection<Object> collection = resolveCollection((String) collectionName, false);
        if (!(collection instanceof StrataCollection)) {
            return null;
        }
        List<?> stages = (List<?>) pipelineObject;
        Object first = stages.get(0);
        if (first instanceof Document && ((Document) first).containsKey("$indexStats") && stages.size() == 1) {
            return withIndexUsage(super.handleCommand(channel, command, query, databaseResolver, oplog), (StrataCollection) collection);
        }
        if (!(first instanceof Document) || ((Document) first).size() != 1 || !(((Document) first).get("$match") instanceof Document)) {
            return null;
        }
        clearLastStatus(channel);
        StrataCollection strata = (StrataCollection) collection;
        Document match = (Document) ((Document) first).get("$match");
        List<Document> pipeline = Aggregation.parse(pipelineObject);
        Aggregation aggregation = Aggregation.fromPipeline(pipeline, databaseResolver, this, collection, oplog);
        aggregation.validate(query);
        List<Document> result;
        try {
            OptionalLong count = onlyCounts(pipeline) ? strata.coveredCount(match) : OptionalLong.empty();
            if (count.isPresent()) {
                result = countFrom(pipeline, count.getAsLong(), databaseResolver, collection, oplog);
                if (result == null) {
                    Aggregation afterMatch = Aggregation.fromPipeline(pipeline.subList(1, pipeline.size()), databaseResolver, this,
                        collection, oplog);
                    // the stages before the count only skip and limit: one shared empty document will do
                    Document placeholder = new Document();
                    result = afterMatch.runStages(Stream.generate(() -> placeholder).limit(count.getAsLong()));
                }
            } else {
                result = aggregation.runStages(strata.matchingInScanOrder(match).stream());
            }
        } catch (TypeMismatchException | FailedToOptimizePipelineError | ProjectStage.InvalidProjectException e) {
            throw e;
        } catch (MongoServerError e) {
            // as the library's Aggregation.computeResult reports errors
            if (e.hasCode(ErrorCode._15998, ErrorCode._40353)) {
                throw e;
            }
            throw new MongoServerError(e.getCode(), e.getCodeName(),
                "PlanExecutor error during aggregation :: caused by :: " + e.getMessageWithoutErrorCode(), e);
        }
        Document cursor = new Document("id", EmptyCursor.get().getId())
            .append("ns", getFullCollectionNamespace((String) collectionName))
            .append("firstBatch", result);
        Document response = new Document("cursor", cursor);
        Utils.markOkay(response);
        return response;
    }

    /**
     * The result of the stages after {@code $match} computed from the number of matches alone, in
     * O(1): {@code $skip} and {@code $limit}, then {@code $count} or a {@code $group} with a constant
     * key summing integer constants (what {@code countDocuments} sends), then whatever follows, run
     * by the library on that one document. The values and their types are the library's: a sum of
     * int constants is an int while it fits, a long beyond. Null when the stages are anything else
     * (e.g. a sum of doubles, whose rounding only repeated addition reproduces): the caller then
     * feeds the library's stages one placeholder per match.
     */
    private List<Document> countFrom(List<Document> pipeline, long matches, DatabaseResolver databaseResolver,
                                     MongoCollection<Object> collection, Oplog oplog) {
        long n = matches;
        for (int i = 1; i < pipeline.size(); i++) {
            Document stage = pipeline.get(i);
            String name = stage.keySet().iterator().next();
            Object spec = stage.get(name);
            Document counted;
            switch (name) {
                case "$skip":
                case "$limit": {
                    if (!(spec instanceof Integer || spec instanceof Long)) {
                        return null;
                    }
                    long value = ((Number) spec).longValue();
                    if (value < 0 || (value == 0 && name.equals("$limit"))) {
                        return null;
                    }
                    n = name.equals("$skip") ? Math.max(0, n - value) : Math.min(n, value);
                    continue;
                }
                case "$count":
                    // the library's $count: {$group: {_id: null, <name>: {$sum: 1}}} then {$project: {_id: 0}}
                    if (!(spec instanceof String)) {
                        return null;
                    }
                    counted = new Document((String) spec, sumOf(1, n));
                    break;
                case "$group": {
                    Document group = (Document) spec;
                    Object key = Expression.evaluateDocument(group.get(Constants.ID_FIELD), new Document());
                    counted = new Document(Constants.ID_FIELD, key instanceof Missing ? null : key);
                    for (String field : group.keySet()) {
                        if (field.equals(Constants.ID_FIELD)) {
                            continue;
                        }
                        Object constant = ((Document) group.get(field)).get("$sum");
                        if (!(constant instanceof Integer || constant instanceof Long)) {
                            return null;
                        }
                        counted.put(field, sumOf((Number) constant, n));
                    }
                    break;
                }
                default:
                    return null;
            }
            // a group over no documents yields none
            List<Document> result = new ArrayList<>();
            if (n > 0) {
                result.add(counted);
            }
            if (i + 1 == pipeline.size()) {
                return result;
            }
            return Aggregation.fromPipeline(pipeline.subList(i + 1, pipeline.size()), databaseResolver, this, collection, oplog)
                .runStages(result.stream());
        }
        return null;
    }

    /** What the library's {@code $sum} of an int or long constant over n documents gives (repeated NumericUtils.addNumbers). */
    static Number sumOf(Number constant, long n) {
        if (constant instanceof Long) {
            return Long.valueOf(constant.longValue() * n);
        }
        // int partial sums stay ints while they fit; k * c grows monotonically, so the last one decides
        long sum = constant.longValue() * n;
        return sum == (int) sum ? Integer.valueOf((int) sum) : Long.valueOf(sum);
    }

    /** True when the stages after the first only count documents, whatever they contain. */
    static boolean onlyCounts(List<Document> pipeline) {
        for (Document stage : pipeline.subList(1, pipeline.size())) {
            if (stage.size() != 1) {
                return false;
            }
            String name = stage.keySet().iterator().next();
            Object spec = stage.get(name);
            switch (name) {
                case "$skip":
                case "$limit":
                    continue;
                case "$count":
                    return true;
                case "$group":
                    return spec instanceof Document && isCountingGroup((Document) spec);
                default:
                    return false;
            }
        }
        return false;
    }

    private static boolean isCountingGroup(Document group) {
        Object id = group.get(Constants.ID_FIELD);
        if (!group.containsKey(Constants.ID_FIELD) || !isConstant(id)) {
            return false;
        }
        for (String field : group.keySet()) {
            if (field.equals(Constants.ID_FIELD)) {
                continue;
            }
            Object accumulator = group.get(field);
            if (!(accumulator instanceof Document) || ((Document) accumulator).size() != 1
                || !(((Document) accumulator).get("$sum") instanceof Number)) {
                return false;
            }
        }
        return true;
    }

    private static boolean isConstant(Object value) {
        return value == null || value instanceof Number || value instanceof Boolean
            || (value instanceof String && !((String) value).startsWith("$"));
    }

    /** {@code $indexStats} with the number of queries each ordered index served (the library reports 0). */
    private static Document withIndexUsage(Document response, StrataCollection collection) {
        Object cursor = response.get("cursor");
        if (!(cursor instanceof Document) || !(((Document) cursor).get("firstBatch") instanceof List)) {
            return response;
        }
        for (Object stats : (List<?>) ((Document) cursor).get("firstBatch")) {
            if (!(stats instanceof Document) || !(((Document) stats).get("accesses") instanceof Document)) {
                continue;
            }
            Object name = ((Document) stats).get("name");
            for (Index<Object> index : collection.getIndexes()) {
                if (index instanceof OrderedIndex && index.getName().equals(name)) {
                    ((Document) ((Document) stats).get("accesses")).put("ops", ((OrderedIndex) index).state().accesses());
                }
            }
        }
        return response;
    }
}
